import { tcpProxy } from "./tcp-proxy";

/** A TCP proxy to a server that can stall: it keeps every connection open and holds what either side sends, until resumed. */
export interface StallingProxy {
  port: number;
  stall(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function stallingProxy(host: string, port: number): Promise<StallingProxy> {
  let stalled = false;
  const held: Array<() => void> = [];
  const proxy = await tcpProxy(host, port, (_toServer, write) => {
    if (stalled) held.push(write);
    else write();
  });
  return {
    port: proxy.port,
    stall: () => {
      stalled = true;
    },
    resume: () => {
      stalled = false;
      for (const write of held.splice(0)) write();
    },
    close: () => proxy.close(),
  };
}
