import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import mm, { MockApplication } from 'egg-mock';
import { app, mock } from 'egg-mock/bootstrap';
import { checkMerchantCertificateAtStart, checkMerchantTls, MerchantCertError, readMerchantTls } from '../../../app/infra/merchantCert';
import { DEV_CREDENTIALS } from '../../../simulator';
import { testEnv } from '../../support/env';
import { login, resetWorld } from '../../support/fixtures';
import { paidOrder, requestRefund } from '../../support/refunds';

const MCH_ID = DEV_CREDENTIALS.mchId;
const CONVERT_ADVICE = 'openssl pkcs12 -in apiclient_cert.p12 -legacy -nodes -out apiclient.pem';

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: [ 'ignore', 'ignore', 'pipe' ] });
}

/** Loads the configured certificate as the start-up check does; the error it throws, if any. */
function check(cert: Record<string, string | undefined>): MerchantCertError | undefined {
  try {
    const material = readMerchantTls(cert, MCH_ID);
    if (material) checkMerchantTls(material, cert);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof MerchantCertError, `expected a MerchantCertError, got ${err}`);
    return err;
  }
}

/**
 * Merchant certificates made at run time with the openssl command (nothing secret is committed):
 * the simulator's client certificate and key exported as a legacy p12 (RC2-40/3DES, as WeChat's
 * older apiclient_cert.p12 files are) and as a modern one (AES-256), both with the mch_id as password.
 */
describe('merchant client certificate (mutual TLS for refunds)', () => {
  let dir: string;
  const file = (name: string) => path.join(dir, name);

  /**
   * The legacy p12 converted to PEM with the advice's command: the certificate and the key in two
   * files (`<prefix>_cert.pem`, `<prefix>_key.pem`) and both in one (`<prefix>.pem`).
   */
  function convertLegacyP12(prefix: string) {
    openssl('pkcs12', '-in', file('apiclient_cert.p12'), '-legacy', '-clcerts', '-nokeys', '-out', file(`${prefix}_cert.pem`), '-passin', `pass:${MCH_ID}`);
    openssl('pkcs12', '-in', file('apiclient_cert.p12'), '-legacy', '-nocerts', '-nodes', '-out', file(`${prefix}_key.pem`), '-passin', `pass:${MCH_ID}`);
    openssl('pkcs12', '-in', file('apiclient_cert.p12'), '-legacy', '-nodes', '-out', file(`${prefix}.pem`), '-passin', `pass:${MCH_ID}`);
  }

  // Every file a test uses is made here (or by the test itself), so any test runs alone (--grep) or in any order.
  before(() => {
    // The test needs the openssl command; .ci/run installs it when missing.
    assert.doesNotThrow(() => execFileSync('openssl', [ 'version' ], { stdio: 'ignore' }), 'the openssl command is required (apt-get install openssl)');
    dir = mkdtempSync(path.join(tmpdir(), 'wxpay-p12-'));
    const tls = testEnv.sim.merchantTls(MCH_ID);
    writeFileSync(file('cert.pem'), tls.cert);
    writeFileSync(file('key.pem'), tls.key, { mode: 0o600 });
    writeFileSync(file('ca.pem'), tls.ca);
    openssl('pkcs12', '-export', '-legacy', '-in', file('cert.pem'), '-inkey', file('key.pem'), '-out', file('apiclient_cert.p12'), '-passout', `pass:${MCH_ID}`);
    openssl('pkcs12', '-export', '-in', file('cert.pem'), '-inkey', file('key.pem'), '-out', file('modern.p12'), '-passout', `pass:${MCH_ID}`);
    // The refund tests' PEM files, converted from the legacy p12.
    convertLegacyP12('converted');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('the start-up check', () => {
    it('a legacy p12 is detected, with the advice to convert it to PEM', () => {
      const err = check({ p12Path: file('apiclient_cert.p12') });
      assert.equal(err?.reason, 'legacy_p12');
      assert.match(err!.message, /legacy algorithms \(RC2-40\/3DES\) that Node's OpenSSL 3 refuses/);
      assert.ok(err!.message.includes(CONVERT_ADVICE), err!.message);
      assert.match(err!.message, /WECHAT_CERT_PEM_PATH and WECHAT_KEY_PEM_PATH/);
    });

    it('the advice works: the legacy p12 converted with it loads as PEM (two files, or one for both settings)', () => {
      convertLegacyP12('apiclient');
      assert.equal(check({ certPath: file('apiclient_cert.pem'), keyPath: file('apiclient_key.pem'), caPath: file('ca.pem') }), undefined);
      assert.equal(check({ certPath: file('apiclient.pem'), keyPath: file('apiclient.pem') }), undefined);
    });

    it('a modern p12 loads, its password defaulting to the mch_id', () => {
      assert.equal(check({ p12Path: file('modern.p12') }), undefined);
      assert.equal(check({ p12Path: file('modern.p12'), p12Password: MCH_ID, caPath: file('ca.pem') }), undefined);
      const material = readMerchantTls({ p12Path: file('modern.p12') }, MCH_ID)!;
      assert.equal(material.passphrase, MCH_ID);
    });

    it('a wrong p12 password says so', () => {
      const err = check({ p12Path: file('modern.p12'), p12Password: 'not-it' });
      assert.equal(err?.reason, 'bad_password');
      assert.match(err!.message, /wrong password \(WECHAT_CERT_P12_PASSWORD; WeChat's default is the mch_id\)/);
    });

    it('missing files, half or contradictory settings, a key that is not the certificate\'s', () => {
      assert.equal(check({ p12Path: file('nope.p12') })?.reason, 'unreadable');
      assert.match(check({ p12Path: file('nope.p12') })!.message, /WECHAT_CERT_P12_PATH .*ENOENT/);
      assert.equal(check({ certPath: file('cert.pem') })?.reason, 'config');
      assert.equal(check({ keyPath: file('key.pem') })?.reason, 'config');
      assert.equal(check({ p12Path: file('modern.p12'), certPath: file('cert.pem'), keyPath: file('key.pem') })?.reason, 'config');
      assert.equal(check({ certPath: file('cert.pem'), keyPath: file('key.pem'), caPath: file('nope.pem') })?.reason, 'unreadable');
      openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file('other-key.pem'));
      assert.equal(check({ certPath: file('cert.pem'), keyPath: file('other-key.pem') })?.reason, 'invalid');
      assert.equal(check({ certPath: file('key.pem'), keyPath: file('cert.pem') })?.reason, 'invalid');
      assert.equal(check({ p12Path: file('cert.pem') })?.reason, 'invalid');
    });

    it('nothing configured: no certificate, refunds off (the start goes on)', () => {
      assert.equal(readMerchantTls({}, MCH_ID), undefined);
      assert.equal(readMerchantTls({ caPath: file('ca.pem') }, MCH_ID), undefined);
    });

    it('a certificate needs an https:// /secapi/ URL (WECHAT_SECAPI_BASE_URL, else WECHAT_PAY_BASE_URL)', () => {
      const pem = { certPath: file('cert.pem'), keyPath: file('key.pem') };
      const base = { mchId: MCH_ID, payBaseUrl: 'http://127.0.0.1:9999' };
      assert.throws(() => checkMerchantCertificateAtStart({ ...base, clientCert: pem }), /must be an https:\/\/ URL, got http:\/\/127.0.0.1:9999/);
      assert.equal(checkMerchantCertificateAtStart({ ...base, clientCert: pem, secapiBaseUrl: 'https://127.0.0.1:9998' }), true);
      assert.equal(checkMerchantCertificateAtStart({ ...base, clientCert: pem, payBaseUrl: 'https://api.mch.weixin.qq.com' }), true);
      assert.equal(checkMerchantCertificateAtStart({ ...base, clientCert: {} }), false);
    });

    it('the app refuses to start with a legacy p12, and its error says how to convert it', async () => {
      const saved = process.env.WECHAT_CERT_P12_PATH;
      process.env.WECHAT_CERT_P12_PATH = file('apiclient_cert.p12');
      let app2: MockApplication | undefined;
      try {
        // clean: false, or egg-mock would empty logs/ under the main app's feet.
        app2 = mm.app({ baseDir: process.cwd(), cache: false, clean: false });
        const err = await app2.ready().then(() => undefined, e => e);
        assert.ok(err instanceof Error, 'the app started');
        assert.ok(err.message.includes(CONVERT_ADVICE), err.message);
      } finally {
        if (saved === undefined) delete process.env.WECHAT_CERT_P12_PATH;
        else process.env.WECHAT_CERT_P12_PATH = saved;
        await app2?.close();
      }
    });
  });

  describe('refunds over mutual TLS with each kind of configuration', () => {
    let token: string;
    beforeEach(async () => {
      await resetWorld();
      ({ token } = await login());
    });

    it('a modern p12 (password: the mch_id) refunds through the simulator\'s /secapi/', async () => {
      mock(app.config.wechat, 'clientCert', { p12Path: file('modern.p12'), caPath: file('ca.pem') });
      const { outTradeNo } = await paidOrder(token);
      const res = await requestRefund(outTradeNo, { amount: 100, reason: 'p12' }).expect(201);
      assert.match(res.body.refundId, /^50\d{27}$/);
      assert.equal(testEnv.sim.requests('refund').length, 1);
    });

    it('the PEM files converted from the legacy p12 refund too', async () => {
      mock(app.config.wechat, 'clientCert', { certPath: file('converted_cert.pem'), keyPath: file('converted_key.pem'), caPath: file('ca.pem') });
      const { outTradeNo } = await paidOrder(token);
      await requestRefund(outTradeNo, { amount: 100, reason: 'pem' }).expect(201);
      assert.equal(testEnv.sim.requests('refund').length, 1);
      assert.equal(testEnv.sim.order(outTradeNo)!.refunds.length, 1);
    });

    it('the certificate file gone after start: pay APIs keep working, refunds answer 503 REFUNDS_NOT_CONFIGURED', async () => {
      const { outTradeNo } = await paidOrder(token);
      mock(app.config.wechat, 'clientCert', { p12Path: file('nope.p12') });
      const res = await requestRefund(outTradeNo, { amount: 100, reason: 'gone' }).expect(503);
      assert.equal(res.body.code, 'REFUNDS_NOT_CONFIGURED');
      await paidOrder(token);
    });

    it('a client certificate the simulator\'s CA did not issue is refused by WeChat: the refund is FAILED, 502', async () => {
      openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${MCH_ID}`, '-days', '2',
        '-keyout', file('self-key.pem'), '-out', file('self-cert.pem'));
      mock(app.config.wechat, 'clientCert', { certPath: file('self-cert.pem'), keyPath: file('self-key.pem'), caPath: file('ca.pem') });
      const { outTradeNo } = await paidOrder(token);
      const res = await requestRefund(outTradeNo, { amount: 100, reason: 'wrong cert' });
      assert.equal(res.status, 502, res.text);
      assert.equal(res.body.code, 'WECHAT_REFUND_REJECTED');
      const [ refund ] = await app.model.Refund.findAll();
      assert.equal(refund.status, 'FAILED');
      assert.equal(testEnv.sim.order(outTradeNo)!.refunds.length, 0);
    });
  });
});
