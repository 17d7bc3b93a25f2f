import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { WechatClientCertConfig, WechatConfig } from '../../config/config.default';

/** What WechatPayClient's `tls` takes: PKCS#12 or PEM, and an optional CA. */
export interface MerchantTls {
  pfx?: Buffer;
  passphrase?: string;
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
}

/** The merchant certificate is configured but cannot be used; the message says what to do. */
export class MerchantCertError extends Error {
  constructor(message: string, readonly reason: 'config' | 'unreadable' | 'legacy_p12' | 'bad_password' | 'invalid') {
    super(message);
    this.name = 'MerchantCertError';
  }
}

/**
 * How to turn a legacy p12 into files Node 20 (OpenSSL 3) loads. WeChat's older apiclient_cert.p12
 * files encrypt the certificate with RC2-40 (and the key with 3DES), which OpenSSL 3 only reads
 * through its "legacy" provider, and Node does not load that provider.
 */
export function legacyP12Advice(p12Path: string): string {
  return [
    `the merchant certificate ${p12Path} is a PKCS#12 file encrypted with legacy algorithms (RC2-40/3DES) that Node's OpenSSL 3 refuses.`,
    'Convert it to PEM once (its password is the mch_id unless you changed it) and configure WECHAT_CERT_PEM_PATH and WECHAT_KEY_PEM_PATH instead of WECHAT_CERT_P12_PATH:',
    '  openssl pkcs12 -in apiclient_cert.p12 -legacy -clcerts -nokeys -out apiclient_cert.pem',
    '  openssl pkcs12 -in apiclient_cert.p12 -legacy -nocerts -nodes -out apiclient_key.pem',
    '(or both in one file for both settings: openssl pkcs12 -in apiclient_cert.p12 -legacy -nodes -out apiclient.pem).',
    'Or re-export a p12 with modern encryption: openssl pkcs12 -in apiclient_cert.p12 -legacy -nodes | openssl pkcs12 -export -out apiclient_cert_aes.p12',
    'Keep the key file readable by the service only (chmod 600).',
  ].join('\n');
}

/**
 * Reads the configured certificate files. undefined when no certificate is configured (refunds
 * are then refused); MerchantCertError for a half or contradictory configuration or a file that
 * cannot be read. The p12 password defaults to the mch_id, as WeChat issues it.
 */
export function readMerchantTls(cert: WechatClientCertConfig, mchId: string): MerchantTls | undefined {
  const { p12Path, p12Password, certPath, keyPath, caPath } = cert;
  if (p12Path && (certPath || keyPath)) {
    throw new MerchantCertError('set either WECHAT_CERT_P12_PATH or WECHAT_CERT_PEM_PATH and WECHAT_KEY_PEM_PATH, not both', 'config');
  }
  if (!p12Path && Boolean(certPath) !== Boolean(keyPath)) {
    throw new MerchantCertError('WECHAT_CERT_PEM_PATH and WECHAT_KEY_PEM_PATH go together: set both', 'config');
  }
  if (!p12Path && !certPath) return undefined;
  const ca = caPath ? read(caPath, 'WECHAT_CA_PATH') : undefined;
  if (p12Path) return { pfx: read(p12Path, 'WECHAT_CERT_P12_PATH'), passphrase: p12Password ?? mchId, ...(ca ? { ca } : {}) };
  return { cert: read(certPath!, 'WECHAT_CERT_PEM_PATH'), key: read(keyPath!, 'WECHAT_KEY_PEM_PATH'), ...(ca ? { ca } : {}) };
}

/**
 * Loads the material into a TLS context, as the refund client will, so a certificate that cannot
 * work stops the start instead of the first refund. Explains the failures merchants meet.
 */
export function checkMerchantTls(material: MerchantTls, cert: WechatClientCertConfig): void {
  try {
    createSecureContext(material);
  } catch (err) {
    const e = err as Error & { code?: string };
    const text = `${e.code ?? ''} ${e.message}`;
    if (material.pfx) {
      if (e.code === 'ERR_CRYPTO_UNSUPPORTED_OPERATION' || /unsupported/i.test(text)) {
        throw new MerchantCertError(legacyP12Advice(cert.p12Path!), 'legacy_p12');
      }
      if (/mac verify failure/i.test(text)) {
        throw new MerchantCertError(
          `cannot open the merchant certificate ${cert.p12Path}: wrong password (WECHAT_CERT_P12_PASSWORD; WeChat's default is the mch_id)`,
          'bad_password');
      }
      throw new MerchantCertError(`cannot load the merchant certificate ${cert.p12Path} as PKCS#12: ${e.message}`, 'invalid');
    }
    throw new MerchantCertError(
      `cannot load the merchant certificate ${cert.certPath} with key ${cert.keyPath}${cert.caPath ? ` and CA ${cert.caPath}` : ''}: ${e.message}`,
      'invalid');
  }
}

function read(path: string, setting: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new MerchantCertError(`cannot read ${setting} (${path}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'unreadable');
  }
}

/**
 * The start-up check (app.ts): false when no certificate is configured (refunds are off); throws
 * MerchantCertError, with advice, when one is configured and cannot work, or when the /secapi/ URL
 * is not https (the certificate only travels over TLS).
 */
export function checkMerchantCertificateAtStart(wechat: Pick<WechatConfig, 'clientCert' | 'mchId' | 'secapiBaseUrl' | 'payBaseUrl'>): boolean {
  const material = readMerchantTls(wechat.clientCert ?? {}, wechat.mchId);
  if (!material) return false;
  checkMerchantTls(material, wechat.clientCert);
  const secapi = wechat.secapiBaseUrl || wechat.payBaseUrl;
  if (!/^https:\/\//i.test(secapi)) {
    throw new MerchantCertError(`refunds need mutual TLS: WECHAT_SECAPI_BASE_URL (or WECHAT_PAY_BASE_URL) must be an https:// URL, got ${secapi}`, 'config');
  }
  return true;
}
