import { once } from "node:events";
import { createConnection, createServer, type Socket } from "node:net";

/** A TCP proxy on a free loopback port: `relay` decides when (and whether) each chunk goes on, told which way it goes. */
export interface TcpProxy {
  port: number;
  close(): Promise<void>;
}

export async function tcpProxy(host: string, port: number, relay: (toServer: boolean, write: () => void) => void): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const forward = (from: Socket, to: Socket, toServer: boolean) => from.on("data", (chunk: Buffer) => relay(toServer, () => to.write(chunk)));
  const server = createServer((client) => {
    const upstream = createConnection({ host, port });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
    forward(client, upstream, true);
    forward(upstream, client, false);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
