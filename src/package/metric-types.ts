// The metrics as the package counts into them, described without prom-client's types: it is an
// optional peer, and a site that counts nothing compiles without it. createMetrics() (the
// "express-user-sessions/metrics" entry) makes objects of this shape.

type LabelValues<L extends string> = Partial<Record<L, string | number>>;

/** A prom-client Counter, as far as the package uses one. */
export interface CountInto<L extends string = string> {
  inc(labels: LabelValues<L>, value?: number): void;
  inc(value?: number): void;
}

/** A prom-client Histogram, as far as the package uses one. */
export interface ObserveInto<L extends string = string> {
  observe(labels: LabelValues<L>, value: number): void;
  observe(value: number): void;
}

/** What ended a session, as counted: only bounded values, never a user, address or handle. */
export type EndedReason = "sign_out" | "revoked" | "admin" | "password" | "disabled" | "deleted" | "cap" | "idle" | "absolute" | "wrong_passwords" | "stolen";

export interface Metrics {
  /** prom-client's Registry, where the cache's counters are added when the client has a cache. */
  registry: object;
  signIns: CountInto<"outcome">;
  created: CountInto<never>;
  ended: CountInto<"reason">;
  reauth: CountInto<"outcome">;
  requests: ObserveInto<"route" | "status">;
  store: ObserveInto<"operation">;
  storeErrors: CountInto<"operation">;
  unavailable: CountInto<never>;
  mail: CountInto<"outcome">;
}
