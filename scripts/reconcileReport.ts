import type { ReconciliationReport } from '../app/service/reconciliation';
import { fenToYuan } from '../lib/wechatpay';

/** The reconciliation result as text for people: totals side by side, then one line per discrepancy. */
export function formatReport(report: ReconciliationReport): string {
  const lines = [ `Reconciliation of ${report.billDate} (Beijing day, WeChat bill ALL): ${report.status}` ];
  if (report.status === 'ERROR') {
    lines.push(`  could not reconcile: ${report.error}`, '  nothing was compared; run it again later (a bill is ready from about 10:00 the next day).');
    return `${lines.join('\n')}\n`;
  }
  if (report.status === 'NO_BILL') {
    lines.push('  WeChat has no bill for this day and we have no payment or refund on it.');
    return `${lines.join('\n')}\n`;
  }
  const bill = report.bill;
  const cell = (count: number | undefined, total: number | undefined) =>
    (count === undefined ? 'no bill' : `${count} / ${fenToYuan(total!)}`).padEnd(22);
  lines.push(
    `  ${''.padEnd(12)}${'WeChat (count / yuan)'.padEnd(22)}ours (count / yuan)`,
    `  ${'payments'.padEnd(12)}${cell(bill?.paymentCount, bill?.paymentTotal)}${cell(report.local.paymentCount, report.local.paymentTotal).trimEnd()}`,
    `  ${'refunds'.padEnd(12)}${cell(bill?.refundCount, bill?.refundTotal)}${cell(report.local.refundCount, report.local.refundTotal).trimEnd()}`,
  );
  // Coupons paid part of the payments above (their amounts are the orders' total_fee); shown when any side has some.
  if ((bill?.couponTotal ?? 0) > 0 || report.local.couponTotal > 0) {
    lines.push(`  ${'coupons'.padEnd(12)}${(bill ? fenToYuan(bill.couponTotal) : 'no bill').padEnd(22)}${fenToYuan(report.local.couponTotal)}`);
  }
  if (bill) lines.push(`  ${'fees'.padEnd(12)}${fenToYuan(bill.feeTotal)}`);
  if (report.discrepancies.length === 0) {
    lines.push('  every payment and refund matches.');
  } else {
    lines.push(`  ${report.discrepancies.length} discrepanc${report.discrepancies.length === 1 ? 'y' : 'ies'}:`);
    for (const d of report.discrepancies) lines.push(`    ${d.kind.padEnd(18)} ${d.subject.padEnd(8)} ${d.message}`);
  }
  return `${lines.join('\n')}\n`;
}
