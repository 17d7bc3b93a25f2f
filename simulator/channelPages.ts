import { fenToYuan } from '../lib/wechatpay';
import { SimOrder } from './types';

/**
 * The payer's pages for the channels outside a WeChat app (issue 16): scanning a NATIVE code
 * (paste it, or pick one of the codes waiting) and the MWEB cashier page an mweb_url opens.
 */
export function renderScanPage(orders: SimOrder[], now: Date): string {
  const codes = orders
    .filter(o => o.tradeType === 'NATIVE' && o.codeUrl && (o.tradeState === 'NOTPAY' || o.tradeState === 'PAYERROR') && o.prepayExpiresAt > now)
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const rows = codes.map(o => `<li><label><input type="radio" name="pick" value="${esc(o.codeUrl!)}"> <code>${esc(o.codeUrl!)}</code>
  ${esc(o.params.body ?? '')}, ${fenToYuan(o.totalFee)} CNY (${esc(o.outTradeNo)})</label></li>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Scan a payment code (simulator)</title>
<style>body { font: 14px system-ui, sans-serif; margin: 2em; } textarea { width: 40em; } #result { margin-top: 1em; font-weight: bold; }</style></head>
<body>
<h1>Scan a payment code</h1>
<p>As the payer's WeChat "Scan": paste a <code>weixin://wxpay/bizpayurl</code> code, or pick one of the codes waiting.</p>
<p><textarea id="code" rows="2" placeholder="weixin://wxpay/bizpayurl?pr=..."></textarea></p>
${codes.length ? `<ul id="codes">${rows}</ul>` : '<p>No code is waiting.</p>'}
<p><button id="pay">Pay</button> <button id="fail">Fail</button></p>
<p id="result"></p>
<script>
document.addEventListener('change', e => { if (e.target.name === 'pick') document.getElementById('code').value = e.target.value; });
async function scan(result) {
  const res = await fetch('scan', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ codeUrl: document.getElementById('code').value.trim(), result }) });
  const data = await res.json();
  document.getElementById('result').textContent = res.ok ? (data.result === 'SUCCESS' ? 'Paid ' + data.outTradeNo : 'Payment failed') : data.message;
}
document.getElementById('pay').onclick = () => scan('SUCCESS');
document.getElementById('fail').onclick = () => scan('FAIL');
</script>
</body></html>
`;
}

export function renderMwebPage(order: SimOrder, q: { prepayId: string; pkg: string; redirectUrl?: string }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>WeChat Pay (simulator)</title>
<style>body { font: 16px system-ui, sans-serif; margin: 1.5em; text-align: center; } .amount { font-size: 2em; margin: .5em 0; } button { font-size: 1em; margin: .3em; }</style></head>
<body>
<h1>WeChat Pay</h1>
<p>${esc(order.params.body ?? '')}</p>
<p class="amount">¥${fenToYuan(order.totalFee)}</p>
<p><button id="pay">Pay</button> <button id="fail">Fail</button> <button id="cancel">Cancel</button></p>
<p id="result"></p>
<script>
const request = ${JSON.stringify({ prepayId: q.prepayId, package: q.pkg }).replace(/</g, '\\u003c')};
const back = ${JSON.stringify(q.redirectUrl ?? null).replace(/</g, '\\u003c')};
function leave(text) {
  document.getElementById('result').textContent = text;
  // WeChat sends the payer back to redirect_url whatever happened: the merchant must check the order.
  if (back) location.href = back;
}
async function pay(result) {
  const res = await fetch('/simulator/mweb-pay', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ ...request, result }) });
  const data = await res.json();
  leave(res.ok ? (data.result === 'SUCCESS' ? 'Paid' : 'Payment failed') : data.message);
}
document.getElementById('pay').onclick = () => pay('SUCCESS');
document.getElementById('fail').onclick = () => pay('FAIL');
document.getElementById('cancel').onclick = () => leave('Cancelled');
</script>
</body></html>
`;
}

export function errorPage(status: number, message: string): { status: number; contentType: string; body: string } {
  return {
    status,
    contentType: 'text/html; charset=utf-8',
    body: `<!doctype html><meta charset="utf-8"><title>WeChat Pay (simulator)</title><p id="error">${esc(message)}</p>`,
  };
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!));
}
