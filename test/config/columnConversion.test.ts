import assert from 'node:assert/strict';
import { app } from 'egg-mock/bootstrap';
import { QueryTypes } from 'sequelize';
import { resetWorld } from '../support/fixtures';

// Columns are converted by mysql2 itself (config.sequelize.dialectOptions.typeCast = true), not by
// Sequelize's callback per field: the values must be exactly those Sequelize's mysql dialect gave
// (docs/decisions/0020-column-conversion-in-mysql2.md).

/** What Sequelize 6's mysql dialect made of a DATETIME column (its DATE.parse, timezone '+00:00'). */
const sequelizeDatetime = (text: string) => new Date(`${text} +00:00`);

const DATETIMES = [
  '1970-01-01 00:00:00.000', '2000-02-29 12:00:00.500', '2026-11-30 23:59:59.999', '2026-12-31 16:00:00.001', '2038-01-19 03:14:08.123',
  '2099-06-15 08:30:45.000',
];

describe('column conversion (config.sequelize.dialectOptions)', () => {
  const originalTz = process.env.TZ;
  beforeEach(resetWorld);
  afterEach(() => {
    if (originalTz === undefined) delete process.env.TZ;
    else process.env.TZ = originalTz;
  });

  it('a DATETIME(3) is the same Date as Sequelize made of it, to the millisecond, in UTC whatever the process\'s zone', async () => {
    for (const tz of [ 'UTC', 'Asia/Shanghai', 'America/Los_Angeles' ]) {
      process.env.TZ = tz;
      for (const text of DATETIMES) {
        const [ row ] = await app.model.query<{ at: Date }>('SELECT CAST(? AS DATETIME(3)) AS at', { replacements: [ text ], type: QueryTypes.SELECT });
        assert.ok(row.at instanceof Date, `${text} in ${tz}`);
        assert.equal(row.at.toISOString(), sequelizeDatetime(text).toISOString(), `${text} in ${tz}`);
      }
    }
  });

  it('NULL stays null; a DATE stays the YYYY-MM-DD string Sequelize answered; integers are numbers', async () => {
    const [ row ] = await app.model.query<Record<string, unknown>>(
      'SELECT CAST(NULL AS DATETIME(3)) AS nothing, CAST(\'2026-11-30\' AS DATE) AS day, CAST(12345 AS UNSIGNED) AS fen, CAST(1 AS SIGNED) = 1 AS yes',
      { type: QueryTypes.SELECT });
    assert.deepEqual(row, { nothing: null, day: '2026-11-30', fen: 12345, yes: 1 });
  });

  it('through the models: an order\'s times and a reconciliation\'s bill date read back as written', async () => {
    const user = await app.model.User.create({ openid: 'o-conversion', appid: app.config.wechat.appId } as any);
    const expiresAt = new Date('2026-12-01T00:00:00.250Z');
    const order = await app.model.Order.create({
      outTradeNo: 'PCONVERSION1', userId: user.id, idempotencyKey: null, totalFee: 1, body: 'x', items: '[]', signType: 'MD5',
      appid: app.config.wechat.appId, expiresAt,
    });
    const read = (await app.model.Order.findByPk(order.id))!;
    assert.equal(read.expiresAt.toISOString(), expiresAt.toISOString());
    assert.equal(read.createdAt.toISOString(), order.createdAt.toISOString());
    assert.equal(read.paidAt, null);
    assert.equal(read.receipt, false);

    const at = new Date('2026-11-30T02:00:00.000Z');
    await app.model.Reconciliation.create({
      billDate: '2026-11-29', status: 'OK', hasBill: true, billPaymentCount: 0, billPaymentTotal: 0, billRefundCount: 0, billRefundTotal: 0,
      billFeeTotal: 0, localPaymentCount: 0, localPaymentTotal: 0, localRefundCount: 0, localRefundTotal: 0, discrepancyCount: 0,
      discrepancies: '[]', startedAt: at, finishedAt: at,
    } as any);
    const reconciliation = (await app.model.Reconciliation.findOne({ where: { billDate: '2026-11-29' } }))!;
    assert.equal(reconciliation.billDate, '2026-11-29');
  });

  it('no conversion callback runs per field: mysql2 converts while it parses the row', async () => {
    const connection: any = await (app.model as any).connectionManager.getConnection({ type: 'read' });
    try {
      assert.equal(connection.config.typeCast, true);
    } finally {
      (app.model as any).connectionManager.releaseConnection(connection);
    }
  });
});
