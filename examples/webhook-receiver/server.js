#!/usr/bin/env node
'use strict';
// Logs the events wxpay-backend delivers: `npm run dev` starts it on WEBHOOK_RECEIVER_PORT (7070).
// Standalone: WEBHOOK_SECRET=... node examples/webhook-receiver/server.js
const { createReceiver } = require('./receiver');

const port = Number(process.env.WEBHOOK_RECEIVER_PORT || 7070);
const secret = process.env.WEBHOOK_SECRET || process.env.OUTBOX_WEBHOOK_SECRET || 'dev-webhook-secret-not-for-production';

const server = createReceiver({
  secret,
  onEvent(event) {
    const { order, refund } = event.data;
    const money = refund ? `refund ${refund.outRefundNo} ${refund.amount} fen` : `${order.totalFee} fen`;
    console.log(`[receiver] ${event.type} order ${event.outTradeNo} #${event.sequence} ${money} (${event.id})`);
  },
  onRefused(why) {
    console.log(`[receiver] refused a request: ${why}`);
  },
});
server.listen(port, '127.0.0.1', () => {
  console.log(`[receiver] listening on http://127.0.0.1:${port}/ for signed events`);
  if (process.send) process.send({ port });
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
