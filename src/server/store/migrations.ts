import type { Database } from './database.js';

// Runs in the editor (history storage that scales): one JSONB row per step cost ~25 s for
// 100,000 steps × 20 metrics and ~9 s to read back. History now arrives as batches, kept as the
// JSON text the client sent (run_history_batches, for GET …/history), and as per-key chunks of
// the numeric points (run_metric_chunks: big-endian int4 steps, float8 ms times and float8
// values, NaN and ±Infinity included) with their extremes, so the metrics route reads only the
// keys asked for, plus an overview of the same points (each run of 64 points reduced to its first,
// last, lowest, highest and first non-finite point) that whole-run chart requests read instead. Non-numeric values are only counted there (the rows keep them). Existing
// run_history rows are carried over: one batch and one chunk per key and run.
const HISTORY_STORAGE = `
  CREATE TABLE run_history_batches (
    project_id bigint NOT NULL,
    run_id text NOT NULL,
    seq bigserial,
    first_step integer NOT NULL,
    last_step integer NOT NULL,
    row_count integer NOT NULL,
    rows text NOT NULL,
    PRIMARY KEY (project_id, run_id, seq)
  );
  ALTER TABLE run_history_batches ALTER COLUMN rows SET STORAGE EXTERNAL;
  CREATE TABLE run_metric_chunks (
    project_id bigint NOT NULL,
    run_id text NOT NULL,
    key text NOT NULL,
    seq bigserial,
    n integer NOT NULL,
    other_count integer NOT NULL,
    nan_count integer NOT NULL,
    inf_count integer NOT NULL,
    min_step integer NOT NULL,
    max_step integer NOT NULL,
    min_time double precision NOT NULL,
    max_time double precision NOT NULL,
    min_value double precision,
    max_value double precision,
    last_step integer NOT NULL,
    last_value text NOT NULL,
    steps bytea NOT NULL,
    times bytea NOT NULL,
    vals bytea NOT NULL,
    ov_n integer NOT NULL,
    ov_steps bytea NOT NULL,
    ov_times bytea NOT NULL,
    ov_vals bytea NOT NULL,
    PRIMARY KEY (project_id, run_id, key, seq)
  );
  ALTER TABLE run_metric_chunks ALTER COLUMN steps SET STORAGE EXTERNAL;
  ALTER TABLE run_metric_chunks ALTER COLUMN times SET STORAGE EXTERNAL;
  ALTER TABLE run_metric_chunks ALTER COLUMN vals SET STORAGE EXTERNAL;
  ALTER TABLE run_metric_chunks ALTER COLUMN ov_vals SET STORAGE EXTERNAL;
  INSERT INTO run_history_batches (project_id, run_id, first_step, last_step, row_count, rows)
    SELECT project_id, run_id, min(step), max(step), count(*),
           json_agg(json_build_object('step', step, 'data', data, 'at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) ORDER BY seq)::text
      FROM run_history GROUP BY project_id, run_id;
  INSERT INTO run_metric_chunks (project_id, run_id, key, n, other_count, nan_count, inf_count, min_step, max_step, min_time, max_time,
                                 min_value, max_value, last_step, last_value, steps, times, vals, ov_n, ov_steps, ov_times, ov_vals)
    SELECT project_id, run_id, key,
           count(num), count(*) - count(num),
           count(*) FILTER (WHERE num = 'NaN'), count(*) FILTER (WHERE num IN ('Infinity', '-Infinity')),
           min(step), max(step), min(t), max(t),
           min(num) FILTER (WHERE num NOT IN ('NaN', 'Infinity', '-Infinity')),
           max(num) FILTER (WHERE num NOT IN ('NaN', 'Infinity', '-Infinity')),
           (array_agg(step ORDER BY step DESC, seq DESC))[1],
           (array_agg(value::text ORDER BY step DESC, seq DESC))[1],
           COALESCE(string_agg(int4send(step), ''::bytea ORDER BY seq) FILTER (WHERE num IS NOT NULL), ''::bytea),
           COALESCE(string_agg(float8send(t), ''::bytea ORDER BY seq) FILTER (WHERE num IS NOT NULL), ''::bytea),
           COALESCE(string_agg(float8send(num), ''::bytea ORDER BY seq) FILTER (WHERE num IS NOT NULL), ''::bytea),
           count(num),
           COALESCE(string_agg(int4send(step), ''::bytea ORDER BY seq) FILTER (WHERE num IS NOT NULL), ''::bytea),
           COALESCE(string_agg(float8send(t), ''::bytea ORDER BY seq) FILTER (WHERE num IS NOT NULL), ''::bytea),
           COALESCE(string_agg(float8send(num), ''::bytea ORDER BY seq) FILTER (WHERE num IS NOT NULL), ''::bytea)
      FROM (SELECT h.project_id, h.run_id, h.seq, h.step, (extract(epoch FROM h.at) * 1000)::double precision AS t, e.key, e.value,
                   CASE WHEN jsonb_typeof(e.value) = 'number' THEN (e.value::text)::double precision
                        WHEN e.value IN ('"NaN"'::jsonb, '"Infinity"'::jsonb, '"-Infinity"'::jsonb) THEN (e.value #>> '{}')::double precision
                   END AS num
              FROM run_history h, jsonb_each(h.data) AS e) AS points
     GROUP BY project_id, run_id, key;
  DROP TABLE run_history;
  `;

// Run history ingest speed (history rows from chunks): every batch was stored twice, as the row
// JSON text and as the per-key chunks, and writing the text was a third of the ingest's CPU.
// New batches keep no text: each row gets a run-wide ordinal (first_ord + its index), stored with
// each of its numeric points (run_metric_chunks.ords, big-endian int4; min_ord/max_ord bound a
// chunk), and the batch keeps each row's step and time (int4/float8 bytes) and its non-numeric
// cells as JSON (`other`, by row index; null when every cell is a number). GET …/history rebuilds
// rows from those. Existing batches keep their text and are read from it; their chunks have no
// ordinals and are never appended to.
const HISTORY_ROWS_FROM_CHUNKS = `
  ALTER TABLE run_history_batches ALTER COLUMN rows DROP NOT NULL;
  ALTER TABLE run_history_batches ADD COLUMN first_ord bigint;
  ALTER TABLE run_history_batches ADD COLUMN steps bytea;
  ALTER TABLE run_history_batches ADD COLUMN times bytea;
  ALTER TABLE run_history_batches ADD COLUMN other text;
  ALTER TABLE run_history_batches ALTER COLUMN steps SET STORAGE EXTERNAL;
  ALTER TABLE run_history_batches ALTER COLUMN times SET STORAGE EXTERNAL;
  ALTER TABLE run_metric_chunks ADD COLUMN ords bytea;
  ALTER TABLE run_metric_chunks ADD COLUMN min_ord bigint;
  ALTER TABLE run_metric_chunks ADD COLUMN max_ord bigint;
  ALTER TABLE run_metric_chunks ALTER COLUMN ords SET STORAGE EXTERNAL;
`;

/**
 * Schema migrations, applied in order once each. Append new steps; never edit a shipped one.
 * Versions get `idx` only at commit (pending rows have none); `collections.next_index` is the
 * counter that makes vN contiguous and never reused, even after a delete.
 */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE projects (
    id bigserial PRIMARY KEY,
    entity text NOT NULL,
    name text NOT NULL,
    run_counter integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (entity, name)
  );
  CREATE TABLE collections (
    id bigserial PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects(id),
    name text NOT NULL,
    type text NOT NULL,
    description text,
    next_index integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
  );
  CREATE TABLE versions (
    id bigserial PRIMARY KEY,
    collection_id bigint NOT NULL REFERENCES collections(id),
    idx integer,
    state text NOT NULL CHECK (state IN ('pending', 'committed', 'deleted')),
    digest text NOT NULL DEFAULT '',
    size bigint NOT NULL DEFAULT 0,
    file_count integer NOT NULL DEFAULT 0,
    manifest jsonb NOT NULL,
    description text,
    metadata jsonb NOT NULL DEFAULT '{}',
    distributed_id text,
    producer_run_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    committed_at timestamptz
  );
  CREATE UNIQUE INDEX versions_idx ON versions (collection_id, idx) WHERE idx IS NOT NULL;
  CREATE UNIQUE INDEX versions_pending ON versions (collection_id, distributed_id) WHERE state = 'pending';
  CREATE INDEX versions_digest ON versions (collection_id, digest) WHERE state = 'committed';
  CREATE TABLE aliases (
    collection_id bigint NOT NULL REFERENCES collections(id),
    alias text NOT NULL,
    version_id bigint NOT NULL REFERENCES versions(id),
    PRIMARY KEY (collection_id, alias)
  );
  CREATE INDEX aliases_version ON aliases (version_id);
  CREATE TABLE runs (
    project_id bigint NOT NULL REFERENCES projects(id),
    run_id text NOT NULL,
    name text NOT NULL,
    job_type text,
    group_name text,
    state text NOT NULL,
    config jsonb NOT NULL DEFAULT '{}',
    summary jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (project_id, run_id)
  );
  CREATE INDEX runs_running ON runs (heartbeat_at) WHERE state = 'running';
  CREATE TABLE run_history (
    project_id bigint NOT NULL,
    run_id text NOT NULL,
    seq bigserial,
    step integer NOT NULL,
    data jsonb NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, run_id, seq)
  );
  CREATE TABLE run_files (
    project_id bigint NOT NULL,
    run_id text NOT NULL,
    path text NOT NULL,
    digest text NOT NULL,
    size bigint NOT NULL,
    PRIMARY KEY (project_id, run_id, path)
  );
  CREATE TABLE edges (
    version_id bigint NOT NULL REFERENCES versions(id),
    project_id bigint NOT NULL,
    run_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('input', 'output')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (version_id, project_id, run_id, kind)
  );
  CREATE INDEX edges_run ON edges (project_id, run_id);
  `,
  // Manifests are written once and read whole: text without compression is ~10× cheaper
  // to insert and read in PGlite than jsonb (10,000 entries: ~30 ms instead of ~400 ms).
  `
  ALTER TABLE versions ALTER COLUMN manifest TYPE text USING manifest::text;
  ALTER TABLE versions ALTER COLUMN manifest SET STORAGE EXTERNAL;
  `,
  // Team store (PostgreSQL replicas): GC bumps this epoch, and a commit that checked its blobs
  // before a GC on any replica re-checks them inside its transaction. Events too big for one
  // NOTIFY (8000 bytes) wait in event_payloads for the other replicas to fetch them by id.
  `
  CREATE TABLE gc_state (id integer PRIMARY KEY CHECK (id = 1), epoch bigint NOT NULL DEFAULT 0);
  INSERT INTO gc_state (id, epoch) VALUES (1, 0);
  CREATE TABLE event_payloads (id bigserial PRIMARY KEY, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
  `,
  // S3 blob store (team mode): the blobs whose bytes a replica verified against their digest.
  // Kept in the database so every replica agrees on what is present; an object in the bucket
  // without a row is never trusted (an interrupted PUT can leave a truncated one there).
  // touched_at restarts GC's grace period (the local store uses the file's mtime instead).
  `
  CREATE TABLE blobs (
    digest text PRIMARY KEY,
    size bigint NOT NULL,
    verified_at timestamptz NOT NULL DEFAULT now(),
    touched_at timestamptz NOT NULL DEFAULT now()
  );
  `,
  // W&B drop-in: run tags and notes; version tags and a time-to-live (expired versions are
  // soft-deleted by gc; ttl_seconds counts from created_at, as W&B's artifact TTL does); aliases
  // requested by upsert_artifact, applied when the distributed version is finished.
  `
  ALTER TABLE runs ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
  ALTER TABLE runs ADD COLUMN notes text;
  ALTER TABLE versions ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
  ALTER TABLE versions ADD COLUMN ttl_seconds bigint;
  ALTER TABLE versions ADD COLUMN pending_aliases text[] NOT NULL DEFAULT '{}';
  CREATE INDEX versions_ttl ON versions (ttl_seconds) WHERE ttl_seconds IS NOT NULL AND state = 'committed';
  `,
  // Team mode (users, teams, API keys, roles, audit): users own a personal entity; a team is an
  // entity with members; every role is a grant on an entity ('' project = the whole entity) or on
  // one project. API keys are stored only as the SHA-256 of a 256-bit random key. Blob read rights
  // follow the projects a blob was committed into (blob_projects) and who uploaded it (blob_uploads).
  `
  CREATE TABLE users (
    id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    site_admin boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE entities (
    name text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('user', 'team')),
    user_id bigint REFERENCES users(id),
    created_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE grants (
    user_id bigint NOT NULL REFERENCES users(id),
    entity text NOT NULL REFERENCES entities(name),
    project text NOT NULL DEFAULT '',
    role text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    granted_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, entity, project)
  );
  CREATE TABLE api_keys (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users(id),
    key_hash text NOT NULL UNIQUE,
    label text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz
  );
  CREATE INDEX api_keys_user ON api_keys (user_id);
  CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    entity text,
    project text,
    target text,
    detail jsonb NOT NULL DEFAULT '{}'
  );
  CREATE INDEX audit_log_project ON audit_log (entity, project, id);
  ALTER TABLE versions ADD COLUMN created_by text;
  ALTER TABLE versions ADD COLUMN updated_by text;
  ALTER TABLE versions ADD COLUMN deleted_by text;
  ALTER TABLE aliases ADD COLUMN moved_by text;
  ALTER TABLE versions ADD COLUMN blobs_recorded boolean NOT NULL DEFAULT false;
  CREATE TABLE blob_uploads (
    digest text NOT NULL,
    user_id bigint NOT NULL REFERENCES users(id),
    PRIMARY KEY (digest, user_id)
  );
  CREATE TABLE blob_projects (
    digest text NOT NULL,
    project_id bigint NOT NULL REFERENCES projects(id),
    PRIMARY KEY (digest, project_id)
  );
  INSERT INTO blob_projects (digest, project_id)
    SELECT DISTINCT e.value->>'digest', c.project_id
      FROM versions v JOIN collections c ON c.id = v.collection_id, jsonb_each(v.manifest::jsonb) AS e
     WHERE v.state IN ('committed', 'pending') AND (e.value->>'ref') IS NULL
    UNION
    SELECT digest, project_id FROM run_files
  ON CONFLICT DO NOTHING;
  UPDATE versions SET blobs_recorded = true;
  `,
  // Runs in the editor (code provenance): what the run's program was and where its git tree
  // stood (runs.provenance), the line that logged a version (versions.call_site) and the line
  // that used one (edges.call_site, input edges only).
  `
  ALTER TABLE runs ADD COLUMN provenance jsonb;
  ALTER TABLE versions ADD COLUMN call_site jsonb;
  ALTER TABLE edges ADD COLUMN call_site jsonb;
  `,
  HISTORY_STORAGE,
  // Small-blob packs (team mode, S3): blobs of a batch upload are stored together in one pack
  // object; a packed blob's row names its pack and byte offset (reads are ranged GETs). A pack
  // without blob rows is garbage; GC deletes it, or rewrites a pack that is mostly garbage.
  `
  CREATE TABLE blob_packs (
    pack_key text PRIMARY KEY,
    size bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  ALTER TABLE blobs ADD COLUMN pack_key text;
  ALTER TABLE blobs ADD COLUMN pack_offset bigint;
  CREATE INDEX blobs_pack ON blobs (pack_key) WHERE pack_key IS NOT NULL;
  `,
  // Registries (W&B Registry): a registry is a project whose collections link to versions logged
  // elsewhere; a link is a version row of its own (own vN and aliases) naming its source.
  `
  CREATE TABLE registries (
    project_id bigint PRIMARY KEY REFERENCES projects(id),
    visibility text NOT NULL,
    description text,
    allow_all_types boolean NOT NULL DEFAULT true,
    artifact_types text[] NOT NULL DEFAULT '{}',
    tags text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  );
  ALTER TABLE versions ADD COLUMN source_version_id bigint REFERENCES versions(id);
  CREATE INDEX versions_source ON versions (source_version_id) WHERE source_version_id IS NOT NULL;
  `,
  // Registry members (W&B's Registry members and roles): user members are project grants on the
  // registry's project; a team member gives every member of that team the role there.
  `
  CREATE TABLE registry_team_members (
    project_id bigint NOT NULL REFERENCES projects(id),
    team text NOT NULL,
    role text NOT NULL,
    added_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, team)
  );
  CREATE INDEX registry_team_members_team ON registry_team_members (team);
  `,
  HISTORY_ROWS_FROM_CHUNKS,
];

/** The step that moved history to batches and per-key chunks (its test replays it). */
export const HISTORY_STORAGE_STEP = MIGRATIONS.indexOf(HISTORY_STORAGE);
/** The step after which new batches keep no row text (its test replays it with HISTORY_STORAGE_STEP). */
export const HISTORY_ROWS_FROM_CHUNKS_STEP = MIGRATIONS.indexOf(HISTORY_ROWS_FROM_CHUNKS);

export async function migrate(db: Database): Promise<void> {
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (step integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
  const done = new Set((await db.query<{ step: number }>('SELECT step FROM schema_migrations')).map((r) => r.step));
  for (let i = 0; i < MIGRATIONS.length; i++) {
    if (done.has(i)) continue;
    await db.transaction(async (tx) => {
      for (const stmt of splitStatements(MIGRATIONS[i])) await tx.query(stmt);
      await tx.query('INSERT INTO schema_migrations (step) VALUES ($1)', [i]);
    });
  }
}

function splitStatements(sql: string): string[] {
  return sql
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean);
}
