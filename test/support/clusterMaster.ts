/**
 * Child process for test/app/metricsCluster.test.ts: the app as production runs it, an egg-cluster
 * master with an agent and CLUSTER_WORKERS app workers on CLUSTER_PORT, configured from the
 * environment. Sends { ready: true } to the parent once every worker listens.
 * Run with: node -r ts-node/register/transpile-only test/support/clusterMaster.ts (EGG_TYPESCRIPT=true)
 */
import { startCluster } from 'egg';

(startCluster as any)({
  baseDir: process.cwd(),
  workers: Number(process.env.CLUSTER_WORKERS),
  port: Number(process.env.CLUSTER_PORT),
}, () => process.send!({ ready: true }));
