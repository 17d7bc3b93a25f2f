import assert from 'node:assert/strict';
import { beijingDay, parseBill, WechatApiError, WechatBillTooLargeError } from '../../lib/wechatpay';
import { WechatSimulator } from '../../simulator';
import { DEV, payClient, TestClock } from './helpers';

const DAY = 24 * 3600 * 1000;
const MiB = 1024 * 1024;
/** Rows of about 270 bytes: some 16 MB of bill, well past the 10 MiB the generic HTTP helper allows. */
const BIG_DAY_PAYMENTS = 60_000;

describe('simulator: a big merchant\'s bill, downloaded by the client', () => {
  const clock = new TestClock();
  const sim = new WechatSimulator({ now: clock.now });
  let day = '';
  let outTradeNos: string[] = [];

  before(async () => {
    await sim.start();
    day = beijingDay(clock.now());
    outTradeNos = sim.addPaidOrders(BIG_DAY_PAYMENTS, { totalFee: 1234 });
    clock.advance(DAY); // the next morning at 10:00 Beijing: the bill is ready
  });

  after(() => sim.stop());

  beforeEach(() => sim.clearFaults());

  it('asks for GZIP and returns the whole bill text, far over 10 MiB decompressed', async () => {
    const text = await payClient(sim, { signType: 'MD5' }).downloadBill(day, 'ALL');
    const [ request ] = sim.requests('downloadbill').slice(-1);
    assert.equal(request.params.tar_type, 'GZIP');
    assert.equal(request.params.bill_date, day);
    assert.ok(Buffer.byteLength(text, 'utf8') > 15 * MiB, `bill of ${Buffer.byteLength(text, 'utf8')} bytes`);

    const bill = parseBill(text);
    assert.equal(bill.rows.length, BIG_DAY_PAYMENTS);
    assert.equal(bill.summary.totalCount, BIG_DAY_PAYMENTS);
    assert.equal(bill.summary.settlementTotalFee, BIG_DAY_PAYMENTS * 1234);
    assert.deepEqual(bill.rows.map(row => row.outTradeNo).sort(), [ ...outTradeNos ].sort());
    assert.ok(bill.rows.every(row => row.totalFee === 1234 && row.tradeState === 'SUCCESS' && row.mchId === DEV.mchId));
  });

  it('a bill past maxBillBytes decompressed fails with WechatBillTooLargeError, not a crash', async () => {
    const client = payClient(sim, { maxBillBytes: 4 * MiB });
    const err = await client.downloadBill(day, 'ALL').then(() => undefined, e => e);
    assert.ok(err instanceof WechatBillTooLargeError, `expected a WechatBillTooLargeError, got ${err}`);
    assert.equal(err.measure, 'decompressed');
    assert.equal(err.limitBytes, 4 * MiB);
    assert.equal(err.message, `the bill exceeds ${4 * MiB} bytes decompressed`);
  });

  it('a reply past maxBillCompressedBytes on the wire fails with WechatBillTooLargeError', async () => {
    const err = await payClient(sim, { maxBillCompressedBytes: 64 * 1024 }).downloadBill(day, 'ALL').then(() => undefined, e => e);
    assert.ok(err instanceof WechatBillTooLargeError, `expected a WechatBillTooLargeError, got ${err}`);
    assert.equal(err.measure, 'compressed');
    assert.equal(err.limitBytes, 64 * 1024);
  });

  it('an XML error asked for as GZIP is still the typed WechatApiError (WeChat answers errors uncompressed)', async () => {
    const err = await payClient(sim).downloadBill(beijingDay(clock.now())).then(() => undefined, e => e);
    assert.equal(sim.requests('downloadbill').slice(-1)[0].params.tar_type, 'GZIP');
    assert.ok(err instanceof WechatApiError, `expected a WechatApiError, got ${err}`);
    assert.equal(err.kind, 'return');
    assert.equal(err.errCode, '20003');
    assert.equal(err.errCodeDes, 'Bill Creating');
  });

  it('a SYSTEMERROR fault on downloadbill is a WechatApiError too', async () => {
    sim.setFault('downloadbill', { kind: 'systemerror' }, 1);
    const err = await payClient(sim).downloadBill(day).then(() => undefined, e => e);
    assert.ok(err instanceof WechatApiError, `expected a WechatApiError, got ${err}`);
    assert.equal(err.errCode, 'SYSTEMERROR');
  });
});
