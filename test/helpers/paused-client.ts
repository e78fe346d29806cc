import type { RedisClientType } from "redis";

/** A command the test holds back: it has been sent by the store when `reached` resolves, and runs on `release()`. */
export interface Pause {
  client: RedisClientType;
  reached: Promise<void>;
  release(): void;
}

/**
 * The client, with the first command that `matches` held back until the test releases it:
 * two operations can then be interleaved at an exact point, every time, on a real server.
 */
export function pauseBefore(client: RedisClientType, matches: (command: string, args: unknown[]) => boolean): Pause {
  let reach!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => {
    reach = resolve;
  });
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let held = false;
  const paused = new Proxy(client, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (held || !matches(String(prop), args)) return value.apply(target, args);
        held = true;
        reach();
        return released.then(() => value.apply(target, args));
      };
    },
  });
  return { client: paused, reached, release };
}

/** Whether a command runs the session write script in this mode ("create" or "update"). */
export function writesSession(mode: "create" | "update") {
  return (command: string, args: unknown[]) =>
    (command === "evalSha" || command === "eval") && (args[1] as { arguments?: string[] } | undefined)?.arguments?.[0] === mode;
}
