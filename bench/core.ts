/**
 * Scenario 4: the protocol core alone, in this process, in operations per second.
 *   service:  lib/wechatpay as the service runs it: parseXml (size limit, UTF-8 check, DOCTYPE
 *             refusal, a strict sax reader with flatness checks) + verifySign (HMAC-SHA256, constant-time compare)
 *             + notifyReply.
 *   baseline: the least code that does the same on a well-formed notification: one regex over
 *             the CDATA fields, HMAC over the sorted fields, a string compare, a template reply.
 * The gap is what safe parsing costs per notification.
 */
import { createHmac } from 'node:crypto';
import { buildXml, notifyReply, parseXml, readNotification, sign, SignType, verifySign } from '../lib/wechatpay';

export interface CoreResult {
  serviceOpsPerSec: number;
  baselineOpsPerSec: number;
}

function opsPerSecond(op: () => void, durationMs: number): number {
  const warmupEnd = Date.now() + Math.min(500, durationMs / 4);
  while (Date.now() < warmupEnd) op();
  let ops = 0;
  const start = process.hrtime.bigint();
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    for (let i = 0; i < 100; i++) op();
    ops += 100;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return ops / seconds;
}

/**
 * A signed payment notification as WeChat sends it; `overrides` name the order, payment and payer.
 * Signed with `signType`, the sign type of the unified order it pays (WeChat sends no `sign_type` field).
 */
export function sampleNotification(apiKey: string, overrides: Record<string, string> = {}, signType: SignType = 'HMAC-SHA256'): string {
  return buildXml(sampleNotificationFields(apiKey, overrides, signType));
}

/** The fields of sampleNotification, sign included. */
export function sampleNotificationFields(apiKey: string, overrides: Record<string, string> = {}, signType: SignType = 'HMAC-SHA256'): Record<string, string> {
  const fields: Record<string, string> = {
    return_code: 'SUCCESS', appid: 'wxbench00000000001', mch_id: '1900009999', nonce_str: 'Qm9vZ2xlIGlzIG5vdCBhIG5vbmNlIQ',
    result_code: 'SUCCESS', openid: 'oBench000000000000000000001', is_subscribe: 'N', trade_type: 'JSAPI', bank_type: 'OTHERS',
    total_fee: '1200', fee_type: 'CNY', cash_fee: '1200', transaction_id: '4200000000202611230000000001',
    out_trade_no: 'P20261123091500ab12cd34ef56ab78', time_end: '20261123171500',
    ...overrides,
  };
  fields.sign = sign(fields, apiKey, signType);
  return fields;
}

export function runCore(apiKey: string, durationMs: number): CoreResult {
  const body = Buffer.from(sampleNotification(apiKey));
  const service = () => {
    const fields = parseXml(body);
    if (!verifySign(fields, apiKey, 'HMAC-SHA256')) throw new Error('sign');
    notifyReply(true, 'OK');
  };
  const cdata = /<([A-Za-z_][A-Za-z0-9_]*)><!\[CDATA\[([^\]]*)\]\]><\/\1>/g;
  const baseline = () => {
    const text = body.toString('utf8');
    const fields: Record<string, string> = {};
    for (const m of text.matchAll(cdata)) fields[m[1]] = m[2];
    const plain = Object.keys(fields).filter(k => k !== 'sign' && fields[k] !== '').sort()
      .map(k => `${k}=${fields[k]}`)
      .join('&');
    const expected = createHmac('sha256', apiKey).update(`${plain}&key=${apiKey}`).digest('hex')
      .toUpperCase();
    if (expected !== fields.sign) throw new Error('sign');
    // eslint-disable-next-line @typescript-eslint/no-unused-expressions
    '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>'.length;
  };
  return { serviceOpsPerSec: opsPerSecond(service, durationMs), baselineOpsPerSec: opsPerSecond(baseline, durationMs) };
}

export interface TenpayComparison {
  /** lib/wechatpay: readNotification (size limit, UTF-8, DOCTYPE refusal, flat-XML checks, return_code, appid, mch_id) + verifySign. */
  serviceOpsPerSec: number;
  /** tenpay (npm, a dev dependency for this comparison only): util.parseXML (xml2js) + _getSign, compared with the sign. */
  tenpayOpsPerSec: number;
  /** Each side's ops/s per round, the two run alternately in this process. */
  rounds: Array<{ service: number; tenpay: number }>;
}

/**
 * The protocol-core target: reading and verifying one notification with every safety
 * check, against tenpay's parseXML + _getSign on the same input, in the same process, the two
 * measured alternately (`rounds` times, `durationMs` each) and both awaited per operation
 * (tenpay's parser is asynchronous). MD5, the service's default sign type.
 */
export async function runTenpayComparison(apiKey: string, durationMs: number, rounds = 3): Promise<TenpayComparison> {
  const { service, viaTenpay } = tenpayComparisonOps(apiKey);
  const measure = async (op: () => Promise<void>) => {
    for (const end = Date.now() + Math.min(500, durationMs / 4); Date.now() < end;) await op();
    let ops = 0;
    const start = process.hrtime.bigint();
    for (const end = Date.now() + durationMs; Date.now() < end; ops += 100) for (let i = 0; i < 100; i++) await op();
    return ops / (Number(process.hrtime.bigint() - start) / 1e9);
  };
  const results: Array<{ service: number; tenpay: number }> = [];
  for (let r = 0; r < rounds; r++) {
    const service1 = r % 2 === 0 ? await measure(service) : 0;
    const tenpay1 = await measure(viaTenpay);
    results.push({ service: r % 2 === 0 ? service1 : await measure(service), tenpay: tenpay1 });
  }
  const med = (xs: number[]) => [ ...xs ].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { serviceOpsPerSec: med(results.map(x => x.service)), tenpayOpsPerSec: med(results.map(x => x.tenpay)), rounds: results };
}

/**
 * The two operations runTenpayComparison measures, on the same MD5-signed notification: also run
 * N times under valgrind by bench/coreCount.ts, for instruction counts that do not depend on the
 * machine's load.
 */
export function tenpayComparisonOps(apiKey: string): { service: () => Promise<void>; viaTenpay: () => Promise<void> } {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const Tenpay = require('tenpay');
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const tenpayUtil = require('tenpay/lib/util');
  const tenpay = new Tenpay({ appid: 'wxbench00000000001', mchid: '1900009999', partnerKey: apiKey });
  const body = Buffer.from(sampleNotification(apiKey, {}, 'MD5'));
  const text = body.toString('utf8');
  const service = async () => {
    const read = readNotification(body, { appIds: [ 'wxbench00000000001' ], mchId: '1900009999', maxBytes: 16 * 1024 });
    if (read.refused !== undefined || !verifySign(read.fields, apiKey, 'MD5')) throw new Error('service: refused');
  };
  const viaTenpay = async () => {
    const json = await tenpayUtil.parseXML(text);
    if (json.sign !== tenpay._getSign(json, 'MD5')) throw new Error('tenpay: sign');
  };
  return { service, viaTenpay };
}
