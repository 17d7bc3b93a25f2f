import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { waitForStatement } from '../../support/processList';
import { paidOrder, requestRefund, useManualRefunds } from '../../support/refunds';

describe('app/service/refund.ts', () => {
  const { manual, user } = useManualRefunds();

  it('records WeChat\'s acceptance under the order\'s row lock: a refund notification settling at that moment is waited for, not deadlocked', async () => {
    const { outTradeNo } = await paidOrder(user.token, manual.sim);
    // WeChat's reply to the refund request is held here (the simulator has already taken the refund)
    // until the test has locked the rows as the refund notification's settlement does.
    const client = app.wechatPay;
    const refund = client.refund.bind(client);
    let replied!: () => void;
    const wechatReplied = new Promise<void>(resolve => { replied = resolve; });
    let release!: () => void;
    const released = new Promise<void>(resolve => { release = resolve; });
    mock(client, 'refund', async (...args: Parameters<typeof refund>) => {
      const reply = await refund(...args);
      replied();
      await released;
      return reply;
    });

    const request = requestRefund(outTradeNo, { amount: 100, reason: 'damaged' }).then(res => res);
    await wechatReplied;
    const row = await app.model.Refund.findOne({ where: { outTradeNo } });
    assert.ok(row && row.status === 'PROCESSING' && row.refundId === null);

    await app.model.transaction(async transaction => {
      // The settlement's locks (app/service/refundSettlement.ts): the order row, then the refund row.
      await app.model.Order.findByPk(row.orderId, { lock: transaction.LOCK.UPDATE, transaction });
      await app.model.Refund.findByPk(row.id, { lock: transaction.LOCK.UPDATE, transaction });
      release();
      // The request now records WeChat's refund_id and waits for a lock this transaction holds.
      assert.ok(await waitForStatement([ '%`orders`%', '%`refunds`%' ]), 'the request\'s write never reached the database');
      // The settlement's write: refund_id and SUCCESS. Before the fix the request's bare UPDATE held
      // the refund_id index entry and waited for the row, and this write then deadlocked with it.
      await app.model.Refund.update({ status: 'SUCCESS', refundId: 'refund-from-notify', successAt: new Date() },
        { where: { id: row.id }, transaction });
    });

    const res = await request;
    // Answered with the refund as it now stands: finished by the notification.
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, 'SUCCESS');
    const after = await app.model.Refund.findByPk(row.id);
    // The notification's refund_id stands: the request's write applies only to a refund without one.
    assert.equal(after!.refundId, 'refund-from-notify');
    assert.equal(after!.status, 'SUCCESS');
  });
});
