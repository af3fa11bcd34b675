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
  {
    version: 3,
    name: 'evidence bundles (hash-chained manifests, files in chunks)',
    sql: `
      -- One row per evidence bundle. Incomplete (complete = false, seq NULL) while its run writes it; a
      -- crash leaves it so, and verify reports it. The chain head is the complete bundle with the highest seq.
      -- manifest holds the exact bytes of manifest.json (bytea, not jsonb: its SHA-256 is what is chained).
      CREATE TABLE evidence_bundles (
        run_id text PRIMARY KEY,
        day date NOT NULL,
        started_at timestamptz NOT NULL,
        seq bigint UNIQUE,
        manifest bytea,
        signature bytea,
        manifest_sha256 text,
        prev_sha256 text,
        complete boolean NOT NULL DEFAULT false,
        CHECK (NOT complete OR (seq IS NOT NULL AND manifest IS NOT NULL AND manifest_sha256 IS NOT NULL))
      );
      CREATE INDEX evidence_bundles_day_idx ON evidence_bundles (day);

      -- The files of a bundle, in chunks of at most 1 MiB, written as the pages stream in.
      CREATE TABLE evidence_files (
        run_id text NOT NULL REFERENCES evidence_bundles (run_id) ON DELETE CASCADE,
        path text NOT NULL,
        chunk_no integer NOT NULL CHECK (chunk_no >= 0),
        data bytea NOT NULL,
        PRIMARY KEY (run_id, path, chunk_no)
      );

      -- What pruning leaves: the last pruned manifest, so that the first remaining bundle still links.
      CREATE TABLE evidence_checkpoint (
        id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        seq bigint NOT NULL,
        manifest_sha256 text NOT NULL,
        day date NOT NULL,
        pruned_at timestamptz NOT NULL,
        pruned_count integer NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'delivery_tail',
    sql: `
      -- The last minutes of the newest delivered window as event fingerprints, for late arrivals.
      CREATE TABLE delivery_tail (
        id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        window_key text NOT NULL,
        from_wall text NOT NULL,
        to_wall text NOT NULL,
        fingerprints jsonb NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'delivered_windows evidence (bundle label, content-manifest SHA-256)',
    sql: `
      -- Which evidence bundle each delivered window has, written in the same transaction as the delivery:
      -- verify cross-checks these against the archive, so a bundle deleted later (the newest included) is
      -- reported by name. NULL for windows delivered before this migration, or without evidence.
      ALTER TABLE delivered_windows ADD COLUMN evidence_bundle text, ADD COLUMN evidence_sha256 text
        CHECK (evidence_sha256 IS NULL OR evidence_sha256 ~ '^[0-9a-f]{64}$');
    `,
  },
  {
    version: 6,
    name: 'account_id on every table (many accounts, one chain each)',
    sql: `
      -- Every row belongs to one LastPass account (ACCOUNTS_FILE); rows from before are the 'default'
      -- account's, the single account of the environment. Each account has its own run state, delivered
      -- windows, history, tail and evidence chain (seq counts per account).
      ALTER TABLE run_state DROP CONSTRAINT run_state_pkey, DROP CONSTRAINT run_state_id_check,
        ADD COLUMN account_id text NOT NULL DEFAULT 'default';
      ALTER TABLE run_state ADD PRIMARY KEY (account_id);

      ALTER TABLE delivered_windows DROP CONSTRAINT delivered_windows_pkey, ADD COLUMN account_id text NOT NULL DEFAULT 'default';
      ALTER TABLE delivered_windows ADD PRIMARY KEY (account_id, key);
      DROP INDEX delivered_windows_end_idx;
      CREATE INDEX delivered_windows_end_idx ON delivered_windows (account_id, "end", delivered_at, key);

      ALTER TABLE history_days DROP CONSTRAINT history_days_pkey, ADD COLUMN account_id text NOT NULL DEFAULT 'default';
      ALTER TABLE history_days ADD PRIMARY KEY (account_id, day);
      ALTER TABLE history_windows DROP CONSTRAINT history_windows_pkey, ADD COLUMN account_id text NOT NULL DEFAULT 'default';
      ALTER TABLE history_windows ADD PRIMARY KEY (account_id, window_key);
      ALTER TABLE user_ips DROP CONSTRAINT user_ips_pkey, ADD COLUMN account_id text NOT NULL DEFAULT 'default';
      ALTER TABLE user_ips ADD PRIMARY KEY (account_id, user_key, ip);
      ALTER TABLE user_vault_changes DROP CONSTRAINT user_vault_changes_pkey, ADD COLUMN account_id text NOT NULL DEFAULT 'default';
      ALTER TABLE user_vault_changes ADD PRIMARY KEY (account_id, user_key, day);

      ALTER TABLE delivery_tail DROP CONSTRAINT delivery_tail_pkey, DROP CONSTRAINT delivery_tail_id_check,
        ADD COLUMN account_id text NOT NULL DEFAULT 'default';
      ALTER TABLE delivery_tail ADD PRIMARY KEY (account_id);

      ALTER TABLE evidence_bundles DROP CONSTRAINT evidence_bundles_seq_key, ADD COLUMN account_id text NOT NULL DEFAULT 'default';
      ALTER TABLE evidence_bundles ADD CONSTRAINT evidence_bundles_account_seq_key UNIQUE (account_id, seq);
      ALTER TABLE evidence_checkpoint DROP CONSTRAINT evidence_checkpoint_pkey, DROP CONSTRAINT evidence_checkpoint_id_check,
        ADD COLUMN account_id text NOT NULL DEFAULT 'default';
      ALTER TABLE evidence_checkpoint ADD PRIMARY KEY (account_id);
    `,
  },
];

/** The newest schema version this build knows. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);
