/**
 * Standalone simulator: `npm run simulator`. Settings from the environment: SIM_PORT (9999),
 * SIM_HOST (127.0.0.1), SIM_APPID, SIM_APP_SECRET, SIM_OA_APPID, SIM_OA_APP_SECRET, SIM_MCH_ID, SIM_API_KEY (the dev credentials
 * when unset), SIM_RETRY_SCALE (1 = WeChat's real notification retry delays), SIM_REFUND_NOTIFY_URL
 * (refund notifications when a refund names none). SIM_HTTPS_PORT, when set, also serves HTTPS
 * (refunds need it) and writes the CA and the merchant's client certificate and key as PEM files
 * to SIM_TLS_DIR (run/simulator-tls). Forked, it sends its parent { ready, url, httpsUrl, dir }
 * once everything is listening and written.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
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

function portEnv(name: string, fallback?: string): number | undefined {
  const raw = env(name, fallback ?? '');
  if (raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${name} must be a port number, got ${JSON.stringify(raw)}`);
  return port;
}

async function main() {
  const appId = env('SIM_APPID', DEV_CREDENTIALS.appId);
  const oaAppId = env('SIM_OA_APPID', DEV_CREDENTIALS.oaAppId);
  const mobileAppId = env('SIM_MOBILE_APPID', DEV_CREDENTIALS.mobileAppId);
  const mchId = env('SIM_MCH_ID', DEV_CREDENTIALS.mchId);
  const sim = new WechatSimulator({
    // The merchant's two apps: the mini-program and the official account (the app's WECHAT_OA_*).
    apps: [
      { appId, appSecret: env('SIM_APP_SECRET', DEV_CREDENTIALS.appSecret) },
      { appId: oaAppId, appSecret: env('SIM_OA_APP_SECRET', DEV_CREDENTIALS.oaAppSecret) },
      { appId: mobileAppId, appSecret: env('SIM_MOBILE_APP_SECRET', DEV_CREDENTIALS.mobileAppSecret) },
    ],
    merchants: [{
      mchId,
      apiKey: env('SIM_API_KEY', DEV_CREDENTIALS.apiKey),
      appIds: [ appId, oaAppId, mobileAppId ],
      h5Domains: process.env.SIM_H5_DOMAINS ? process.env.SIM_H5_DOMAINS.split(',') : undefined,
      refundNotifyUrl: process.env.SIM_REFUND_NOTIFY_URL || undefined,
      scanCallbackUrl: process.env.SIM_SCAN_CALLBACK_URL || undefined,
    }],
    retryScale: numberEnv('SIM_RETRY_SCALE', 1),
  });
  const host = env('SIM_HOST', '127.0.0.1');
  const url = await sim.start(portEnv('SIM_PORT', '9999')!, host);
  console.log(`WeChat simulator listening on ${url} (payer console: ${url}/simulator/)`);

  const httpsPort = portEnv('SIM_HTTPS_PORT');
  let tls: { httpsUrl: string; dir: string } | undefined;
  if (httpsPort !== undefined) {
    const httpsUrl = await sim.startHttps(httpsPort, host);
    const dir = path.resolve(env('SIM_TLS_DIR', 'run/simulator-tls'));
    mkdirSync(dir, { recursive: true });
    const material = sim.merchantTls(mchId);
    writeFileSync(path.join(dir, 'ca.pem'), material.ca);
    writeFileSync(path.join(dir, 'apiclient_cert.pem'), material.cert);
    writeFileSync(path.join(dir, 'apiclient_key.pem'), material.key, { mode: 0o600 });
    console.log(`HTTPS (refunds) on ${httpsUrl}; CA and client certificate in ${dir}`);
    tls = { httpsUrl, dir };
  }
  sim.on('delivery', a => console.log(`[notify ${a.kind}] ${a.outTradeNo} ${a.source} #${a.attempt} -> ${a.status ?? a.error} ${a.acknowledged ? 'acknowledged' : 'not acknowledged'}`));

  const shutdown = () => {
    sim.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  // Started with fork (npm run dev, npm run bench): tell the parent it is listening, with its files written.
  process.send?.({ ready: true, url, ...tls });
}

main().catch(err => {
  console.error(`simulator failed to start: ${(err as Error).message}`);
  process.exit(1);
});
