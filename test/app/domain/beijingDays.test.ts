import assert from 'node:assert/strict';
import { addDays, beijingDate, beijingDayWindow, isCalendarDay, lastBeijingDays, share } from '../../../app/domain/beijingDays';

describe('domain/beijingDays', () => {
  it('a Beijing day starts at 16:00 UTC the day before', () => {
    assert.equal(beijingDate(new Date('2026-11-20T15:59:59.999Z')), '2026-11-20');
    assert.equal(beijingDate(new Date('2026-11-20T16:00:00.000Z')), '2026-11-21');
    assert.deepEqual(beijingDayWindow('2026-11-21'), { start: new Date('2026-11-20T16:00:00.000Z'), end: new Date('2026-11-21T16:00:00.000Z') });
  });

  it('counts days back across months and years, today last', () => {
    assert.deepEqual(lastBeijingDays(new Date('2027-01-01T17:00:00Z'), 3), [ '2026-12-31', '2027-01-01', '2027-01-02' ]);
    assert.deepEqual(lastBeijingDays(new Date('2027-01-01T15:00:00Z'), 1), [ '2027-01-01' ]);
    assert.equal(addDays('2028-02-28', 1), '2028-02-29');
    assert.equal(addDays('2026-03-01', -1), '2026-02-28');
  });

  it('knows real calendar days', () => {
    for (const day of [ '2026-11-30', '2028-02-29' ]) assert.ok(isCalendarDay(day), day);
    for (const day of [ '2026-02-29', '2026-13-01', '2026-11-31', '20261130', '2026-1-5', '' ]) assert.ok(!isCalendarDay(day), day);
  });

  it('share: 4 decimals, null without a whole', () => {
    assert.equal(share(1, 3), 0.3333);
    assert.equal(share(2, 2), 1);
    assert.equal(share(0, 0), null);
  });
});
