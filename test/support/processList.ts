import { app } from 'egg-mock/bootstrap';
import { QueryTypes } from 'sequelize';

/**
 * Whether a statement of another connection of this database whose text matches `like` (SQL LIKE)
 * is running right now: in these tests, waiting for a lock the test holds. The process list shows
 * it even where InnoDB's lock waits do not (a primary-key FOR UPDATE that waits may be in the
 * optimizer's "Statistics" state).
 */
export async function statementRunning(like: string): Promise<boolean> {
  const [ row ] = await app.model.query<{ n: number }>('SELECT COUNT(*) AS n FROM information_schema.processlist ' +
    'WHERE db = DATABASE() AND id <> CONNECTION_ID() AND command IN (\'Query\', \'Execute\') AND info LIKE ?',
  { replacements: [ like ], type: QueryTypes.SELECT });
  return Number(row.n) > 0;
}

/**
 * Polls until a statement matching one of `likes` runs (answers true), or `gaveUp()` says the work
 * it waits for has ended, or `timeoutMs` pass (answers false).
 */
export async function waitForStatement(likes: string[], gaveUp: () => boolean = () => false, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!gaveUp() && Date.now() < deadline) {
    for (const like of likes) if (await statementRunning(like)) return true;
    await new Promise(resolve => setImmediate(resolve));
  }
  return false;
}
