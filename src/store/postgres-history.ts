/**
 * The PostgreSQL store's per-user history (migration 2): `user_ips`, `user_vault_changes`, `history_days`
 * and `history_windows` (the applied window keys). Merging runs inside completeDelivery's transaction, with
 * multi-row `unnest` inserts of at most HISTORY_BATCH_ROWS rows each and the pruning in the same transaction.
 */
import type { PoolClient } from 'pg';
import {
  HISTORY_APPLIED_WINDOWS_LIMIT,
  HISTORY_MAX_IPS_PER_USER,
  HISTORY_RETENTION_DAYS,
  type HistorySnapshot,
  type NormalisedContribution,
} from '../core/run-state.js';

/** Rows per multi-row history statement: one round trip per this many (user, IP) pairs or users. */
export const HISTORY_BATCH_ROWS = 5_000;

/**
 * Merges a contribution (once per window key) and applies the bounds. Inside completeDelivery's transaction;
 * `q` is the quoted schema, `appliedAt` the time recorded for the window key.
 */
export async function mergeHistoryRows(
  client: PoolClient,
  q: string,
  c: NormalisedContribution,
  appliedAt: string,
  /** The account's id as an escaped SQL literal (pg.escapeLiteral of a slug). */
  a = "'default'",
): Promise<void> {
  const fresh = await client.query(
    `INSERT INTO ${q}.history_windows (account_id, window_key, applied_at) VALUES (${a}, $1, $2) ON CONFLICT (account_id, window_key) DO NOTHING RETURNING 1`,
    [c.windowKey, appliedAt],
  );
  if (fresh.rowCount === 0) return; // already applied: a re-delivery (--force, or a retry after a crash)
  await client.query(
    `DELETE FROM ${q}.history_windows WHERE account_id = ${a} AND seq < (SELECT seq FROM ${q}.history_windows WHERE account_id = ${a} ORDER BY seq DESC OFFSET $1 LIMIT 1)`,
    [HISTORY_APPLIED_WINDOWS_LIMIT - 1],
  );
  await client.query(`INSERT INTO ${q}.history_days (account_id, day) VALUES (${a}, $1::date) ON CONFLICT (account_id, day) DO NOTHING`, [
    c.day,
  ]);

  const pairs: [string, string][] = [];
  for (const u of c.users) for (const ip of u.ips) pairs.push([u.user, ip]);
  for (let i = 0; i < pairs.length; i += HISTORY_BATCH_ROWS) {
    const batch = pairs.slice(i, i + HISTORY_BATCH_ROWS);
    await client.query(
      `INSERT INTO ${q}.user_ips (account_id, user_key, ip, last_day)
       SELECT ${a}, t.u, t.i, $3::date FROM unnest($1::text[], $2::text[]) AS t(u, i)
       ON CONFLICT (account_id, user_key, ip) DO UPDATE SET last_day = GREATEST(user_ips.last_day, EXCLUDED.last_day)`,
      [batch.map((p) => p[0]), batch.map((p) => p[1]), c.day],
    );
  }
  const vault = c.users.filter((u) => u.vaultChanges > 0);
  for (let i = 0; i < vault.length; i += HISTORY_BATCH_ROWS) {
    const batch = vault.slice(i, i + HISTORY_BATCH_ROWS);
    await client.query(
      `INSERT INTO ${q}.user_vault_changes (account_id, user_key, day, count)
       SELECT ${a}, t.u, $2::date, t.n FROM unnest($1::text[], $3::integer[]) AS t(u, n)
       ON CONFLICT (account_id, user_key, day) DO UPDATE SET count = user_vault_changes.count + EXCLUDED.count`,
      [batch.map((u) => u.user), c.day, batch.map((u) => u.vaultChanges)],
    );
  }

  // Retention: everything older than HISTORY_RETENTION_DAYS before the newest day goes.
  const cutoff = await client.query<{ cutoff: string | null }>(
    `SELECT to_char(max(day) - $1::integer, 'YYYY-MM-DD') AS cutoff FROM ${q}.history_days WHERE account_id = ${a}`,
    [HISTORY_RETENTION_DAYS],
  );
  const oldest = cutoff.rows[0]?.cutoff;
  if (oldest) {
    await client.query(`DELETE FROM ${q}.history_days WHERE account_id = ${a} AND day < $1::date`, [oldest]);
    await client.query(`DELETE FROM ${q}.user_ips WHERE account_id = ${a} AND last_day < $1::date`, [oldest]);
    await client.query(`DELETE FROM ${q}.user_vault_changes WHERE account_id = ${a} AND day < $1::date`, [oldest]);
  }
  if (pairs.length > 0) {
    // The per-user IP bound, after retention (either order gives the same result), in one statement that
    // ranks only the users over it: one pass over user_ips, which retention keeps to 60 days of IPs.
    // (Capping per batch with `= ANY(batch users)` cost a scan per batch: seconds at 100k users.)
    await client.query(
      `WITH over AS (SELECT user_key FROM ${q}.user_ips WHERE account_id = ${a} GROUP BY user_key HAVING count(*) > $1),
       ranked AS (
         SELECT i.user_key, i.ip,
           row_number() OVER (PARTITION BY i.user_key ORDER BY i.last_day DESC, i.ip COLLATE "C") AS rn
         FROM ${q}.user_ips i JOIN over USING (user_key) WHERE i.account_id = ${a}
       )
       DELETE FROM ${q}.user_ips d USING ranked r WHERE d.account_id = ${a} AND d.user_key = r.user_key AND d.ip = r.ip AND r.rn > $1`,
      [HISTORY_MAX_IPS_PER_USER],
    );
  }
}

/** The whole history as a snapshot (inside a REPEATABLE READ transaction; `q` is the quoted schema). */
export async function readHistoryRows(client: PoolClient, q: string, a = "'default'"): Promise<HistorySnapshot> {
  const days = await client.query<{ day: string }>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day FROM ${q}.history_days WHERE account_id = ${a} ORDER BY day`,
  );
  const ips = await client.query<{ user_key: string; ip: string; last_day: string }>(
    `SELECT user_key, ip, to_char(last_day, 'YYYY-MM-DD') AS last_day FROM ${q}.user_ips WHERE account_id = ${a}`,
  );
  const vault = await client.query<{ user_key: string; day: string; count: number }>(
    `SELECT user_key, to_char(day, 'YYYY-MM-DD') AS day, count FROM ${q}.user_vault_changes WHERE account_id = ${a}`,
  );
  // Entries first, objects last (Object.fromEntries): any key, even "__proto__", stays an own property.
  const users = new Map<string, { ips: [string, string][]; vault: [string, number][] }>();
  const of = (user: string) => {
    let u = users.get(user);
    if (!u) users.set(user, (u = { ips: [], vault: [] }));
    return u;
  };
  for (const r of ips.rows) of(r.user_key).ips.push([r.ip, r.last_day]);
  for (const r of vault.rows) of(r.user_key).vault.push([r.day, r.count]);
  const snapshot: HistorySnapshot = {
    users: Object.fromEntries(
      [...users].map(([user, u]) => [user, { ips: Object.fromEntries(u.ips), vaultChanges: Object.fromEntries(u.vault) }]),
    ),
    days: days.rows.map((r) => r.day),
  };
  return snapshot;
}
