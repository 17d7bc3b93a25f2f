import { fenToYuan } from '../lib/wechatpay';
import { DeliveryAttempt, SimOrder } from './types';

export interface PageData {
  orders: SimOrder[];
  deliveries: DeliveryAttempt[];
  now: Date;
}

/** The payer's console at GET /simulator/: pending orders with Pay and Fail, recent deliveries. */
export function renderPage({ orders, deliveries, now }: PageData): string {
  const pending = orders
    .filter(o => (o.tradeState === 'NOTPAY' || o.tradeState === 'PAYERROR') && o.prepayExpiresAt > now)
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const recentOrders = [ ...orders ].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()).slice(0, 20);
  const recentDeliveries = deliveries.slice(-30).reverse();

  const pendingRows = pending.map(o => `<tr>
  <td><a href="orders/${esc(encodeURIComponent(o.outTradeNo))}">${esc(o.outTradeNo)}</a></td><td>${esc(o.params.body ?? '')}</td>
  <td class="num">${fenToYuan(o.totalFee)}</td><td>${esc(o.openid)}</td><td>${esc(o.tradeState)}</td><td>${esc(o.prepayExpiresAt.toISOString())}</td>
  <td><button data-action="pay" data-order="${esc(o.outTradeNo)}">Pay</button>
      <button data-action="fail" data-order="${esc(o.outTradeNo)}">Fail</button>
      <label>coupon (fen) <input type="number" min="0" step="1" size="6" data-coupon="${esc(o.outTradeNo)}" value="0"></label></td>
</tr>`).join('\n');
  const orderRows = recentOrders.map(o => `<tr>
  <td><a href="orders/${esc(encodeURIComponent(o.outTradeNo))}">${esc(o.outTradeNo)}</a></td><td class="num">${fenToYuan(o.totalFee)}</td>
  <td>${esc(o.tradeState)}</td><td>${esc(o.transactionId ?? '')}</td><td>${esc(o.signType)}</td><td>${esc(o.createdAt.toISOString())}</td>
</tr>`).join('\n');
  const deliveryRows = recentDeliveries.map(d => `<tr>
  <td>${esc(d.at.toISOString())}</td><td>${esc(d.outTradeNo)}</td><td>${esc(d.source)} #${d.attempt}${d.copy > 1 ? ` copy ${d.copy}` : ''}</td>
  <td>${d.status ?? ''}</td><td class="${d.acknowledged ? 'ok' : 'bad'}">${d.acknowledged ? 'yes' : 'no'}</td>
  <td><code>${esc(truncate(d.error ?? d.reply ?? '', 120))}</code></td>
</tr>`).join('\n');

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>WeChat simulator</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
td.num { text-align: right; } td.ok { color: #1a7f37; } td.bad { color: #b42318; }
button { cursor: pointer; }
</style></head>
<body>
<h1>WeChat simulator</h1>
<p><button data-action="code">New login code</button> <code id="code"></code></p>
<h2>Waiting for payment</h2>
${pending.length ? `<table><tr><th>out_trade_no</th><th>body</th><th>amount (CNY)</th><th>openid</th><th>state</th><th>prepay expires</th><th></th></tr>
${pendingRows}</table>` : '<p>No order is waiting for payment.</p>'}
<h2>Recent orders</h2>
${recentOrders.length ? `<table><tr><th>out_trade_no</th><th>amount (CNY)</th><th>state</th><th>transaction_id</th><th>sign type</th><th>created</th></tr>
${orderRows}</table>` : '<p>None yet.</p>'}
<h2>Recent notifications</h2>
${recentDeliveries.length ? `<table><tr><th>at</th><th>out_trade_no</th><th>attempt</th><th>HTTP</th><th>acknowledged</th><th>reply or error</th></tr>
${deliveryRows}</table>` : '<p>None yet.</p>'}
<script>
async function post(path, body) {
  const res = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const data = await res.json();
  if (!res.ok) throw new Error(data.message || res.statusText);
  return data;
}
document.addEventListener('click', async event => {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  button.disabled = true;
  try {
    if (button.dataset.action === 'code') {
      const data = await post('login-code', {});
      document.getElementById('code').textContent = data.code + '  (openid ' + data.openid + ')';
      button.disabled = false;
      return;
    }
    // A coupon (CASH) pays that many fen of the order; the payer pays the rest.
    const couponInput = document.querySelector('input[data-coupon="' + button.dataset.order + '"]');
    const couponFee = couponInput ? Number(couponInput.value) : 0;
    const coupons = button.dataset.action === 'pay' && couponFee > 0 ? [ { fee: couponFee } ] : undefined;
    await post('pay', { outTradeNo: button.dataset.order, result: button.dataset.action === 'pay' ? 'SUCCESS' : 'FAIL', coupons });
  } catch (err) {
    alert(err.message);
  }
  location.reload();
});
</script>
</body></html>
`;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!));
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
