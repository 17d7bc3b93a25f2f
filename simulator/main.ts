/**
 * Standalone simulator: `npm run simulator`. Settings from the environment: SIM_PORT (9999),
 * SIM_HOST (127.0.0.1), SIM_APPID, SIM_APP_SECRET, SIM_MCH_ID, SIM_API_KEY (the dev credentials
 * when unset), SIM_RETRY_SCALE (1 = WeChat's real notification retry delays).
 */
import { DEV_CREDENTIALS, WechatSimulator } from './index';

function env(name: string, fallback: string): string {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

function numberEnv(name: string, fallback: number): number {
  const raw = env(name, String(fallback));
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
  return value;
}

async function main() {
  const appId = env('SIM_APPID', DEV_CREDENTIALS.appId);
  const sim = new WechatSimulator({
    apps: [{ appId, appSecret: env('SIM_APP_SECRET', DEV_CREDENTIALS.appSecret) }],
    merchants: [{ mchId: env('SIM_MCH_ID', DEV_CREDENTIALS.mchId), apiKey: env('SIM_API_KEY', DEV_CREDENTIALS.apiKey), appIds: [ appId ] }],
    retryScale: numberEnv('SIM_RETRY_SCALE', 1),
  });
  const port = numberEnv('SIM_PORT', 9999);
  if (!Number.isInteger(port) || port > 65535) throw new Error('SIM_PORT must be a port number');
  const url = await sim.start(port, env('SIM_HOST', '127.0.0.1'));
  console.log(`WeChat simulator listening on ${url} (payer console: ${url}/simulator/)`);
  sim.on('delivery', a => console.log(`[notify] ${a.outTradeNo} ${a.source} #${a.attempt} -> ${a.status ?? a.error} ${a.acknowledged ? 'acknowledged' : 'not acknowledged'}`));

  const shutdown = () => {
    sim.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch(err => {
  console.error(`simulator failed to start: ${(err as Error).message}`);
  process.exit(1);
});
