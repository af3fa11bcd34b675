/**
 * The PostgreSQL schema, as an ordered list of migrations. `init()` applies the ones not yet recorded in
 * `schema_migrations`, in order, each in the same transaction as its bookkeeping row, with `search_path`
 * set (SET LOCAL) to the store's schema: write table names unqualified.
 *
 * Rules: never edit or reorder a released migration; add a new one with the next version. Later work
 * (evidence bundles, ...) goes in new versions.
 */

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'run state and delivered windows',
    sql: `
      CREATE TABLE run_state (
        id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        cursor timestamptz,
        consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
        last_failure jsonb,
        last_success_at timestamptz,
        pending_delivery jsonb,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      INSERT INTO run_state (id) VALUES (1);

      CREATE TABLE delivered_windows (
        key text PRIMARY KEY,
        start timestamptz NOT NULL,
        "end" timestamptz NOT NULL,
        delivered_at timestamptz NOT NULL,
        message_id text,
        marker text NOT NULL,
        summary jsonb NOT NULL
      );
      CREATE INDEX delivered_windows_end_idx ON delivered_windows ("end", delivered_at, key);
    `,
  },
  {
    version: 2,
    name: 'per-user history for the detections',
    sql: `
      -- Days that delivered runs contributed (bounded by HISTORY_RETENTION_DAYS before the newest).
      CREATE TABLE history_days (
        day date PRIMARY KEY
      );

      -- Window keys whose history is merged in (the newest HISTORY_APPLIED_WINDOWS_LIMIT, by seq), so a
      -- re-delivery of the same window counts once.
      CREATE TABLE history_windows (
        window_key text PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        applied_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX history_windows_seq_idx ON history_windows (seq);

      -- IPs seen signing in per user, with the last day (at most HISTORY_MAX_IPS_PER_USER per user).
      CREATE TABLE user_ips (
        user_key text NOT NULL,
        ip text NOT NULL,
        last_day date NOT NULL,
        PRIMARY KEY (user_key, ip)
      );
      CREATE INDEX user_ips_last_day_idx ON user_ips (last_day);

      -- Vault deletions and changes per user and day.
      CREATE TABLE user_vault_changes (
        user_key text NOT NULL,
        day date NOT NULL,
        count integer NOT NULL CHECK (count > 0),
        PRIMARY KEY (user_key, day)
      );
      CREATE INDEX user_vault_changes_day_idx ON user_vault_changes (day);
    `,
  },
];

/** The newest schema version this build knows. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);
