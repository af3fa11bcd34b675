/**
 * The PostgreSQL schema, as an ordered list of migrations. `init()` applies the ones not yet recorded in
 * `schema_migrations`, in order, each in the same transaction as its bookkeeping row, with `search_path`
 * set (SET LOCAL) to the store's schema: write table names unqualified.
 *
 * Rules: never edit or reorder a released migration; add a new one with the next version. Later work
 * (per-user history, evidence bundles) goes in new versions.
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
];

/** The newest schema version this build knows. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);
