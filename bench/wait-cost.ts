/**
 * npm run bench:wait: what REDIS_WAIT_REPLICAS=1 costs a sign-in (session create) and a
 * session end, on a throwaway 3-master Redis Cluster with a replica each. Two rounds of 300
 * of each, with 0 and with 1; medians.
 */
import { randomBytes } from "node:crypto";
import { loadConfig } from "../src/package/config";
import { handleOf } from "../src/package/session-store/session-record";
import { openBackend } from "../src/site/backend";
import { startRedisCluster } from "../test/helpers/redis-cluster";
import { withState } from "../test/helpers/stores";

(async () => {
  const c = await startRedisCluster();
  const nodes = c.nodes
    .slice(0, 3)
    .map((n) => `${n.host}:${n.port}`)
    .join(",");
  const user = { name: "W", email: "w@example.com", role: "user", org: null, ver: 1, cv: 1 };
  const med = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
  for (const round of [1, 2])
    for (const wait of ["0", "1"]) {
      const b = await openBackend(loadConfig({ REDIS_CLUSTER_NODES: nodes, REDIS_WAIT_REPLICAS: wait, SESSION_SECRET: "x".repeat(40) }));
      const create: number[] = [],
        end: number[] = [];
      for (let i = 0; i < 300; i++) {
        const sid = randomBytes(24).toString("base64url");
        const uid = `u${i % 30}`;
        let t = process.hrtime.bigint();
        await new Promise<void>((r, j) => b.kit.store.set(sid, withState({ cookie: {} }, { userId: uid, user, credVersion: 1 }), (e) => (e ? j(e) : r())));
        create.push(Number(process.hrtime.bigint() - t) / 1e6);
        t = process.hrtime.bigint();
        await b.kit.store.endUserSession(uid, handleOf(sid));
        end.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      console.log(`round ${round} REDIS_WAIT_REPLICAS=${wait}: create ${med(create).toFixed(2)} ms, end ${med(end).toFixed(2)} ms (medians of 300)`);
      await b.close();
    }
  await c.stop();
})();
