/**
 * The HTTP API contract (`/api/v1`): one zod schema per wire shape. The server validates
 * requests and serializes responses with these; the TypeScript SDK parses responses with them;
 * the OpenAPI document the server serves is generated from them (the Python client follows it).
 *
 * Conventions
 * - Auth: `Authorization: Bearer <api key>` on every route but `GET /api/v1/health`.
 * - Errors: any non-2xx carries `ErrorBody`.
 * - Timestamps: ISO-8601 strings in UTC.
 * - Paged lists: `?limit=` (1–1000, default 100) and `?cursor=` (opaque; from `nextCursor`).
 */
import { z } from 'zod';
import { NAME_PATTERN, VERSION_PATTERN } from './names.js';
import { REGISTRY_PREFIX } from './registry.js';

export const API_PREFIX = '/api/v1';

const Name = z.string().min(1).max(128);
/**
 * Names in responses: clients build folders (`artifacts/<name>:<version>`) and requests from
 * them, so a server may only send names that pass the rules it applies to requests.
 */
const ServerName = z.string().regex(NAME_PATTERN).refine((s) => s !== '.' && s !== '..', 'must not be "." or ".."');
/** `v3` once committed; `pending` before. */
const VersionLabel = z.string().refine((s) => VERSION_PATTERN.test(s) || s === 'pending', 'must be vN or pending');
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const Json = z.record(z.string(), z.unknown());
const Iso = z.string();

// ---------------------------------------------------------------- errors, health, identity
export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

export const Health = z.object({ ok: z.literal(true), version: z.string(), mode: z.enum(['embedded', 'team']) });
export type Health = z.infer<typeof Health>;

// ---------------------------------------------------------------- users, teams, keys, roles (team mode)
/** viewer: read and download; editor: + log, alias, update, use, runs; admin: + delete, grant. */
export const Role = z.enum(['viewer', 'editor', 'admin']);
export type Role = z.infer<typeof Role>;
export const ROLES: readonly Role[] = Role.options;

/** A role on a whole entity (`project` null) or on one of its projects. */
export const Grant = z.object({ user: ServerName, entity: ServerName, project: ServerName.nullable(), role: Role });
export type Grant = z.infer<typeof Grant>;

/** GET /viewer: who the API key belongs to, what they may see, and defaults for clients. */
export const Viewer = z.object({
  entity: ServerName,
  defaultProject: ServerName,
  /** The user behind the key (embedded mode: the single owner, named like its entity). */
  user: ServerName.optional(),
  mode: z.enum(['embedded', 'team']).optional(),
  /** Site admins may do everything everywhere (the embedded owner is one). */
  siteAdmin: z.boolean().optional(),
  /** The caller's grants: their personal entity, teams and single projects, with roles. */
  entities: z.array(z.object({ entity: ServerName, kind: z.enum(['user', 'team']).nullable(), project: ServerName.nullable(), role: Role })).optional(),
  /** `entity/project` of restricted registries that the caller's entity-wide roles below admin do not reach. */
  restricted: z.array(z.string().max(512)).optional(),
});
export type Viewer = z.infer<typeof Viewer>;

export const User = z.object({ name: ServerName, siteAdmin: z.boolean(), createdAt: z.string(), grants: z.array(Grant) });
export type User = z.infer<typeof User>;
export const UserList = z.object({ items: z.array(User) });
/** POST /users (site admin): makes the user, their personal entity, and a first API key. */
export const CreateUserRequest = z.object({ name: Name, siteAdmin: z.boolean().optional() });
/** The key is shown once: the server keeps only its hash. */
export const CreateUserResponse = z.object({ user: User, apiKey: z.string() });
/** POST /grants (site admin, or admin of the entity / project). */
export const GrantRequest = z.object({ user: Name, entity: Name, project: Name.optional(), role: Role });
/** DELETE /grants?user=&entity=[&project=] (the same people who may grant): answers the removed grant. */
export const RevokeGrantQuery = z.object({ user: Name, entity: Name, project: Name.optional() });

export const Team = z.object({ name: ServerName, members: z.array(z.object({ user: ServerName, role: Role })), createdAt: z.string() });
export type Team = z.infer<typeof Team>;
/** POST /teams (site admin). */
export const CreateTeamRequest = z.object({ name: Name });
/** POST /teams/:team/members (site admin or team admin): the member's role on the whole team entity. */
export const AddMemberRequest = z.object({ user: Name, role: Role });

export const ApiKeyInfo = z.object({
  id: z.string(),
  user: Name,
  label: z.string().nullable(),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
});
export type ApiKeyInfo = z.infer<typeof ApiKeyInfo>;
export const ApiKeyList = z.object({ items: z.array(ApiKeyInfo) });
/** POST /keys: a new key for the caller (site admins may name another `user`). */
export const CreateKeyRequest = z.object({
  label: z.string().max(200).optional(),
  /** Lifetime in seconds; omitted = never expires. */
  expiresInSeconds: z.number().int().positive().max(10 * 366 * 86400).optional(),
  user: Name.optional(),
});
export const CreateKeyResponse = z.object({ key: ApiKeyInfo, apiKey: z.string() });

/**
 * GET /projects/:entity/:project/audit: who logged, aliased, edited and deleted what, and who
 * granted or removed roles, created or revoked keys, and created the user or team (those rows belong to the whole entity:
 * `project` is null; only callers with an entity-wide role see them).
 */
export const AuditEntry = z.object({
  at: z.string(),
  actor: z.string(),
  action: z.enum([
    'version.create',
    'version.update',
    'version.delete',
    'alias.move',
    'alias.remove',
    'version.link',
    'registry.create',
    'registry.update',
    'registry.delete',
    'grant.add',
    'grant.remove',
    'key.create',
    'key.revoke',
    'user.create',
    'team.create',
  ]),
  /** null: an entity-wide row (a grant on the whole entity, a key of the entity's user). */
  project: z.string().nullable().optional(),
  target: z.string(),
  detail: z.record(z.string(), z.unknown()),
});
export type AuditEntry = z.infer<typeof AuditEntry>;
export const AuditList = z.object({ items: z.array(AuditEntry), nextCursor: z.string().nullable() });

// ---------------------------------------------------------------- manifest
export const ManifestEntry = z.object({
  digest: z.string().min(1).max(2048),
  size: z.number().int().nonnegative(),
  ref: z.string().max(4096).optional(),
  extra: Json.optional(),
});
export const Manifest = z.record(z.string(), ManifestEntry);
export type ManifestWire = z.infer<typeof Manifest>;

// ---------------------------------------------------------------- projects
export const Project = z.object({
  entity: ServerName,
  name: ServerName,
  artifactCount: z.number().int(),
  runCount: z.number().int(),
  updatedAt: Iso,
});
export type Project = z.infer<typeof Project>;
export const ProjectList = z.object({ items: z.array(Project) });

export const ArtifactTypeSummary = z.object({ type: ServerName, collectionCount: z.number().int() });
export const ArtifactTypeList = z.object({ items: z.array(ArtifactTypeSummary) });

// ---------------------------------------------------------------- code provenance
/** A line of the program that logged or used an artifact (`file` as in `Provenance.program`). */
export const CallSite = z.object({ file: z.string().min(1).max(4096), line: z.number().int().positive() });
export type CallSite = z.infer<typeof CallSite>;
/**
 * The code a run ran, recorded by the clients at `init`: the entry program, and the git state of
 * the work tree it lives in. Paths are relative to `root` when inside it (else absolute); `root`
 * is the work tree (or the working directory without git) on the machine that ran it.
 */
export const Provenance = z.object({
  program: z.string().min(1).max(4096).nullable(),
  root: z.string().min(1).max(4096).nullable(),
  git: z
    .object({
      commit: z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/),
      branch: z.string().max(256).nullable(),
      remote: z.string().max(2048).nullable(),
      /** Tracked files differ from HEAD, or there are untracked files that are not ignored. */
      dirty: z.boolean(),
      /** Untracked, not ignored files (`git status --porcelain`); their names end the diff file, not their contents. Absent from older clients. */
      untracked: z.number().int().nonnegative().optional(),
      /** Run file (see …/runs/:runId/files) holding `git diff HEAD` of a dirty tree, at most 1 MiB. */
      diffFile: z.string().max(4096).nullable(),
      diffTruncated: z.boolean(),
    })
    .nullable(),
});
export type Provenance = z.infer<typeof Provenance>;

// ---------------------------------------------------------------- runs
export const RunState = z.enum(['running', 'finished', 'failed', 'crashed']);
export type RunState = z.infer<typeof RunState>;

export const RunRef = z.object({ id: z.string(), name: z.string(), jobType: z.string().nullable() });
export type RunRef = z.infer<typeof RunRef>;

export const Run = z.object({
  entity: ServerName,
  project: ServerName,
  id: z.string(),
  name: z.string(),
  jobType: z.string().nullable(),
  group: z.string().nullable(),
  state: RunState,
  config: Json,
  summary: Json,
  /** W&B drop-in: run tags and notes (optional so older servers still parse). */
  tags: z.array(z.string()).optional(),
  notes: z.string().nullable().optional(),
  /** Code provenance (null: the client recorded none; optional so older servers still parse). */
  provenance: Provenance.nullable().optional(),
  createdAt: Iso,
  updatedAt: Iso,
  heartbeatAt: Iso,
  finishedAt: Iso.nullable(),
});
export type Run = z.infer<typeof Run>;
export const RunList = z.object({ items: z.array(Run), nextCursor: z.string().nullable() });
/** A run or version tag (W&B: free text; here at most 128 characters, no control characters). */
export const Tag = z.string().min(1).max(128).regex(/^[^\u0000-\u001f]+$/);
export const TagList = z.array(Tag).max(100);

/** POST /projects/:entity/:project/runs */
export const CreateRunRequest = z.object({
  /** Run ids as W&B accepts them: letters, digits, `-` and `_`. */
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
  name: z.string().min(1).max(128).optional(),
  jobType: Name.optional(),
  group: z.string().min(1).max(128).optional(),
  config: Json.optional(),
  tags: TagList.optional(),
  notes: z.string().max(65_536).optional(),
  provenance: Provenance.optional(),
});
/** PATCH /projects/:entity/:project/runs/:runId — config/summary merge key by key. */
export const UpdateRunRequest = z.object({
  config: Json.optional(),
  summary: Json.optional(),
  state: z.enum(['finished', 'failed']).optional(),
  /** Replaces the run's tags. */
  tags: TagList.optional(),
  notes: z.string().max(65_536).nullable().optional(),
  name: z.string().min(1).max(128).optional(),
});
/** POST …/runs/:runId/history */
/** Steps are stored as 32-bit integers (W&B's `_step` never comes near it). */
export const MAX_STEP = 2_147_483_647;
export const HistoryRow = z.object({ step: z.number().int().nonnegative().max(MAX_STEP), data: Json, at: Iso.optional() });
/** Standard base64 (A–Z a–z 0–9 + /, "=" padding); a loop, as a regex over megabytes of it is slow. */
function isBase64(s: string): boolean {
  let end = s.length;
  if (end % 4) return false;
  if (s.charCodeAt(end - 1) === 0x3d) end--;
  if (s.charCodeAt(end - 1) === 0x3d) end--;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f)) return false;
  }
  return true;
}
/** Rows per history batch (either form). */
export const MAX_HISTORY_BATCH = 10_000;
/**
 * A batch in columns, the compact form clients send: `step` and `time` (ms since the epoch) per
 * row; `numbers`: the keys every row logged as a number, each the base64 of the rows' IEEE-754
 * float64 values, little-endian (NaN and ±Infinity included); `other`: the remaining cells by
 * row index ("0", "1", …), as JSON (strings, objects, media, keys not in every row).
 */
export const HistoryColumns = z.object({
  step: z.array(z.number().int().nonnegative().max(MAX_STEP)).min(1).max(MAX_HISTORY_BATCH),
  /** The latest time a JavaScript Date holds (year 275760). */
  time: z.array(z.number().nonnegative().max(8.64e15)),
  numbers: z.record(z.string(), z.string().refine(isBase64, 'base64 of little-endian float64 values')),
  other: z.record(z.string().regex(/^(0|[1-9][0-9]{0,4})$/, 'a row index'), Json).optional(),
});
export type HistoryColumns = z.infer<typeof HistoryColumns>;
/** POST …/history: `rows` (one object per row) or `columns` (HistoryColumns), not both. */
export const AppendHistoryRequest = z
  .object({ rows: z.array(HistoryRow).min(1).max(MAX_HISTORY_BATCH).optional(), columns: HistoryColumns.optional() })
  .refine((b) => (b.rows === undefined) !== (b.columns === undefined), { message: 'send either "rows" or "columns" (one batch), not both and not neither' });
export const HistoryList = z.object({ items: z.array(HistoryRow) });
/**
 * A metric value as charts receive it: JSON has no NaN or infinities, so they travel as strings
 * (W&B keeps NaN in history; a chart shows a gap and says so).
 */
export const MetricValue = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]);
export type MetricValue = z.infer<typeof MetricValue>;
/**
 * GET …/runs/:runId/metrics — series for charts, downsampled on the server so a run of 100,000
 * steps loads fast; ask again with `min`/`max` (in units of `x`) for full detail on zoom.
 * `keys`: comma-separated metric keys (default: every numeric key). `x`: `step` (default) or
 * `time` (ms since epoch), the axis that `min`/`max`/downsampling apply to. `points`: at most this
 * many points per series (default 1,000), keeping each bucket's extremes.
 */
export const MetricsQuery = z.object({
  keys: z.string().max(65_536).optional(),
  x: z.enum(['step', 'time']).optional(),
  min: z.coerce.number().optional(),
  max: z.coerce.number().optional(),
  points: z.coerce.number().int().min(10).max(100_000).optional(),
});
/** One key the run logged: numeric keys are charted; other values (strings, objects) are listed. */
export const MetricKey = z.object({
  key: z.string(),
  numeric: z.boolean(),
  /** Rows that logged this key. */
  count: z.number().int().nonnegative(),
  firstStep: z.number().int().nonnegative(),
  lastStep: z.number().int().nonnegative(),
  /** Finite extremes of a numeric key (null when it has no finite value). */
  min: z.number().nullable(),
  max: z.number().nullable(),
  /** The value at the last step, as logged (any JSON: a number, "NaN", a string, an object). */
  last: z.unknown(),
});
export type MetricKey = z.infer<typeof MetricKey>;
/** Parallel arrays: the i-th point is (step[i], time[i], value[i]). Sorted by the query's `x`. */
export const MetricSeries = z.object({
  key: z.string(),
  /** Points of this key within [min, max] before downsampling. */
  total: z.number().int().nonnegative(),
  downsampled: z.boolean(),
  step: z.array(z.number().int().nonnegative()),
  time: z.array(z.number()),
  value: z.array(MetricValue),
});
export type MetricSeries = z.infer<typeof MetricSeries>;
export const RunMetrics = z.object({
  runId: z.string(),
  keys: z.array(MetricKey),
  series: z.array(MetricSeries),
  /** Plain-language notes for the viewer, e.g. "loss: 3 NaN values are shown as gaps". */
  notes: z.array(z.string()),
});
export type RunMetrics = z.infer<typeof RunMetrics>;
/** PUT …/runs/:runId/files — attach an already-uploaded blob as a saved run file. */
export const RunFile = z.object({ path: z.string(), digest: Sha256, size: z.number().int().nonnegative() });
export const PutRunFilesRequest = z.object({ files: z.array(RunFile).min(1).max(10_000) });
export const RunFileList = z.object({ items: z.array(RunFile) });

// ---------------------------------------------------------------- blobs
export const BlobSpec = z.object({ digest: Sha256, size: z.number().int().nonnegative() });
/** POST /blobs/negotiate: which of these does the server lack? (at most 10,000 per call) */
export const NegotiateRequest = z.object({ blobs: z.array(BlobSpec).max(10_000) });
/** One part of a multipart upload: PUT bytes [offset, offset + size) of the blob to `url`. */
export const UploadPart = z.object({ number: z.number().int().min(1).max(10_000), offset: z.number().int().nonnegative(), size: z.number().int().positive(), url: z.string() });
export const NegotiateResponse = z.object({
  /**
   * Only the blobs the server lacks, each with where to PUT its bytes: the server's own blob route
   * (small blobs may then travel in a batch), or a presigned storage URL (team mode; sent without
   * the API key), or — large blobs in team mode — `parts`, each PUT to its own presigned URL.
   * When `confirm` is set the bytes went around the server: POST it to /blobs/confirm afterwards,
   * so the server verifies them against the digest (nothing commits over unverified bytes).
   */
  missing: z.array(
    BlobSpec.extend({
      uploadUrl: z.string().optional(),
      headers: z.record(z.string(), z.string()).optional(),
      parts: z.array(UploadPart).min(1).max(10_000).optional(),
      confirm: z.string().max(4096).optional(),
    }),
  ),
});
export type NegotiateResponse = z.infer<typeof NegotiateResponse>;
/** PUT /blobs/:digest (body: raw bytes, `Content-Type: application/octet-stream`). */
export const PutBlobResponse = z.object({ digest: Sha256, size: z.number().int(), created: z.boolean() });
/**
 * POST /blobs/batch — many small blobs in one request (one HTTP round trip instead of one per file).
 * Body (`application/octet-stream`): one line of JSON `BlobBatchHeader` + "\n", then every blob's
 * bytes back to back in header order. At most 10,000 blobs of at most 4 MiB each; the server
 * re-hashes each one (any mismatch → 422 `digest_mismatch` naming it; the others are kept).
 */
export const BlobBatchHeader = z.object({ blobs: z.array(BlobSpec).min(1).max(10_000) });
export const PutBlobBatchResponse = z.object({ items: z.array(PutBlobResponse) });
/**
 * POST /blobs/confirm — after uploading straight to storage: the server verifies each blob's bytes
 * against its digest (completing a multipart upload first, with the parts' ETags) and only then
 * counts it as present. A mismatch → 422 `digest_mismatch` naming it (the others are kept).
 */
export const ConfirmedPart = z.object({ number: z.number().int().min(1).max(10_000), etag: z.string().min(1).max(1024) });
export const ConfirmBlobsRequest = z.object({
  blobs: z.array(BlobSpec.extend({ confirm: z.string().min(1).max(4096), parts: z.array(ConfirmedPart).max(10_000).optional() })).min(1).max(1_000),
});
export const ConfirmBlobsResponse = z.object({ items: z.array(PutBlobResponse) });
/** POST /blobs/batch-get — response: the blobs' bytes back to back in request order (octet-stream). */
export const GetBlobBatchRequest = z.object({ digests: z.array(Sha256).min(1).max(10_000) });

// ---------------------------------------------------------------- artifacts and versions
export const VersionState = z.enum(['pending', 'committed', 'deleted']);

export const ArtifactVersion = z.object({
  id: z.string(),
  entity: ServerName,
  project: ServerName,
  name: ServerName,
  type: ServerName,
  /** `v3` */
  version: VersionLabel,
  index: z.number().int().nonnegative(),
  digest: Sha256,
  size: z.number().int().nonnegative(),
  fileCount: z.number().int().nonnegative(),
  aliases: z.array(ServerName),
  description: z.string().nullable(),
  metadata: Json,
  state: VersionState,
  /** W&B drop-in: version tags and time-to-live in seconds from createdAt (null: kept forever). */
  tags: z.array(z.string()).optional(),
  ttlSeconds: z.number().int().positive().nullable().optional(),
  createdAt: Iso,
  updatedAt: Iso,
  producerRun: RunRef.nullable(),
  /** Audit: the user who logged this version, and who last changed its aliases, description or metadata. */
  createdBy: z.string().nullable().optional(),
  updatedBy: z.string().nullable().optional(),
  /** Where the producer run's code logged this version (see `Run.provenance` for the program and commit). */
  callSite: CallSite.nullable().optional(),
  /**
   * Registries: this version is a link in a registry collection to a version logged elsewhere
   * (W&B's linked artifact). Files, digest and producer are the source's; aliases and vN are the link's own.
   */
  linkedFrom: z.lazy(() => LinkSource).nullable().optional(),
});
export type ArtifactVersion = z.infer<typeof ArtifactVersion>;
export const VersionList = z.object({ items: z.array(ArtifactVersion), nextCursor: z.string().nullable() });
export type VersionList = z.infer<typeof VersionList>;

export const ArtifactCollection = z.object({
  entity: ServerName,
  project: ServerName,
  name: ServerName,
  type: ServerName,
  description: z.string().nullable(),
  versionCount: z.number().int(),
  latest: ArtifactVersion.nullable(),
  aliases: z.array(z.object({ alias: ServerName, version: VersionLabel })),
  createdAt: Iso,
  updatedAt: Iso,
});
export type ArtifactCollection = z.infer<typeof ArtifactCollection>;
export const CollectionList = z.object({ items: z.array(ArtifactCollection), nextCursor: z.string().nullable() });

/** GET …/versions/:selector/manifest */
export const ManifestResponse = z.object({ version: VersionLabel, digest: Sha256, entries: Manifest });
export type ManifestResponse = z.infer<typeof ManifestResponse>;

/**
 * POST /projects/:entity/:project/artifacts/:name/versions — commit a version in one
 * transaction. Every non-reference blob must already be on the server (else `missing_blobs`).
 * Same digest as a committed version → that version is returned (`created: false`) and the
 * aliases are applied to it; `latest` moves to it either way.
 */
export const CommitVersionRequest = z.object({
  type: Name,
  manifest: Manifest,
  description: z.string().max(65_536).optional(),
  metadata: Json.optional(),
  aliases: z.array(z.string()).max(100).optional(),
  /** Producing run (output edge), in the same project. */
  runId: z.string().optional(),
  /** Applied to the version (added to an existing one on dedup). */
  tags: TagList.optional(),
  ttlSeconds: z.number().int().positive().nullable().optional(),
  /** The producing run's `log_artifact` line (code provenance). */
  callSite: CallSite.optional(),
});
/**
 * Logging content again that a committed version of the collection already holds, named by its
 * digest instead of its manifest (W&B's re-log of unchanged files): a few hundred bytes instead of
 * a manifest of 10,000 entries to send, parse and check. Everything else applies as on a commit
 * (aliases move, tags and TTL, the run's output edge). No such version: 404, and the client
 * commits the manifest instead.
 */
export const RelogVersionRequest = CommitVersionRequest.omit({ manifest: true }).extend({ digest: Sha256 });
export const CommitVersionResponse = z.object({ version: ArtifactVersion, created: z.boolean() });
export type CommitVersionResponse = z.infer<typeof CommitVersionResponse>;

/**
 * Distributed versions: parallel runs of one group upsert entries into a single pending version
 * (POST …/artifacts/:name/pending/:distributedId), then one of them finishes it
 * (POST …/artifacts/:name/pending/:distributedId/finish). Same path + different digest → conflict.
 */
export const UpsertPendingRequest = z.object({
  type: Name,
  manifest: Manifest,
  runId: z.string().optional(),
  /** Applied when the version is finished (with the finisher's own). */
  aliases: z.array(z.string()).max(100).optional(),
  description: z.string().max(65_536).optional(),
  metadata: Json.optional(),
  callSite: CallSite.optional(),
});
export const PendingVersion = z.object({ distributedId: z.string(), fileCount: z.number().int(), size: z.number().int() });
export const FinishPendingRequest = z.object({
  runId: z.string().optional(),
  aliases: z.array(z.string()).max(100).optional(),
  description: z.string().max(65_536).optional(),
  metadata: Json.optional(),
  tags: TagList.optional(),
  ttlSeconds: z.number().int().positive().nullable().optional(),
});

/** PATCH …/versions/:selector — the manifest never changes. */
export const UpdateVersionRequest = z.object({
  description: z.string().max(65_536).nullable().optional(),
  /** Replaces the whole metadata object. */
  metadata: Json.optional(),
  /** Merges key by key; a `null` value removes the key. */
  metadataPatch: Json.optional(),
  aliases: z
    .object({
      add: z.array(z.string()).max(100).optional(),
      remove: z.array(z.string()).max(100).optional(),
      /** Replace the version's aliases with exactly these. */
      set: z.array(z.string()).max(100).optional(),
    })
    .optional(),
  /** Replaces the version's tags. */
  tags: TagList.optional(),
  /** Seconds from createdAt until gc deletes the version; null keeps it forever. */
  ttlSeconds: z.number().int().positive().nullable().optional(),
});
/** DELETE …/versions/:selector?deleteAliases=true */
export const DeleteVersionResponse = z.object({ version: ArtifactVersion });

/** GET /resolve?ref=entity/project/name:selector — the fast path for CodeLens and clients. */
export const ResolveResponse = ArtifactVersion;

/** POST …/runs/:runId/inputs — declare that a run uses a version (idempotent). */
export const UseArtifactRequest = z.object({ ref: z.string().min(1).max(512), callSite: CallSite.optional() });
/** A run's inputs carry `usedAt`, the `use_artifact` line; its outputs carry the version's own `callSite`. */
export const RunArtifacts = z.object({ items: z.array(ArtifactVersion.extend({ usedAt: CallSite.nullable().optional() })) });
/** GET …/versions/:selector/consumers */
export const RunRefList = z.object({ items: z.array(Run) });

// ---------------------------------------------------------------- registries (W&B Registry)
/** A registry is a project (`wandb-registry-NAME`, see core/registry.ts) whose collections hold links to versions logged elsewhere. */
export const RegistryVisibility = z.enum(['organization', 'restricted']);
export const Registry = z.object({
  entity: ServerName,
  /** Without the prefix: `model`. */
  name: ServerName,
  /** The registry's project: `wandb-registry-model`. */
  project: ServerName,
  visibility: RegistryVisibility,
  description: z.string().nullable(),
  /** false: only `artifactTypes` may be linked. Types once allowed are never removed (W&B's rule). */
  allowAllArtifactTypes: z.boolean(),
  artifactTypes: z.array(ServerName),
  tags: z.array(z.string()),
  createdAt: Iso,
  updatedAt: Iso,
});
export type Registry = z.infer<typeof Registry>;
export const RegistryList = z.object({ items: z.array(Registry) });
/** PUT /projects/:entity/wandb-registry-NAME/registry — create (409 when it exists). No `artifactTypes`: all types allowed. */
export const CreateRegistryRequest = z.object({
  visibility: RegistryVisibility,
  description: z.string().max(65_536).nullable().optional(),
  artifactTypes: z.array(Name).max(100).nullable().optional(),
  tags: TagList.optional(),
});
/**
 * W&B's registry roles. On the server they are project roles on `wandb-registry-NAME`:
 * viewer = viewer, member = editor (link, alias, edit), admin = admin (delete, manage members).
 */
export const RegistryRole = z.enum(['viewer', 'member', 'admin']);
export type RegistryRole = z.infer<typeof RegistryRole>;
/** A user, or a team whose members all get the role. */
export const RegistryMemberRef = z.object({ kind: z.enum(['user', 'team']), name: Name });
export const RegistryMember = RegistryMemberRef.extend({ role: RegistryRole });
export type RegistryMember = z.infer<typeof RegistryMember>;
/** GET …/registry/members: the registry's own members (entity-wide roles are not listed). */
export const RegistryMemberList = z.object({ items: z.array(RegistryMember) });
/** POST …/registry/members: adds members with `role` (default viewer, as W&B); existing members keep theirs. */
export const AddRegistryMembersRequest = z.object({ members: z.array(RegistryMemberRef).min(1).max(100), role: RegistryRole.optional() });
/** PATCH …/registry/members/:kind/:name */
export const UpdateRegistryMemberRequest = z.object({ role: RegistryRole });

/** PATCH /projects/:entity/wandb-registry-NAME/registry — `addArtifactTypes` only adds (saved types stay). */
export const UpdateRegistryRequest = z.object({
  visibility: RegistryVisibility.optional(),
  description: z.string().max(65_536).nullable().optional(),
  allowAllArtifactTypes: z.boolean().optional(),
  addArtifactTypes: z.array(Name).max(100).optional(),
  tags: TagList.optional(),
});
export const LinkSource = z.object({ entity: ServerName, project: ServerName, name: ServerName, version: VersionLabel });
export type LinkSource = z.infer<typeof LinkSource>;
/**
 * POST …/projects/:entity/:project/artifacts/:name/links — link a committed version into the
 * registry collection `:name` of registry project `:project`. Linking the same source again returns
 * its link (`created: false`) with the aliases applied; `latest` moves to it either way.
 */
export const LinkVersionRequest = z.object({
  source: z.object({ entity: Name, project: Name, name: Name, version: z.string().min(1).max(130) }),
  aliases: z.array(z.string()).max(100).optional(),
});
export const LinkVersionResponse = z.object({ version: ArtifactVersion, created: z.boolean() });
export type LinkVersionResponse = z.infer<typeof LinkVersionResponse>;

// ---------------------------------------------------------------- lineage
export const LineageNode = z.object({
  /** `artifact:<versionId>` / `run:<runId>` at instance level; `artifactType:<type>` / `jobType:<jobType>` collapsed. */
  id: z.string(),
  kind: z.enum(['artifact', 'run', 'artifactType', 'jobType']),
  /** `dataset:mnist-raw:v1`, `load-data:sunny-smoke-1`, `dataset`, `load-data`. */
  label: z.string(),
  /** Instance nodes: the version or run they stand for. */
  version: ArtifactVersion.optional(),
  run: Run.optional(),
  /** Collapsed nodes: how many instances they stand for. */
  count: z.number().int().optional(),
});
export type LineageNode = z.infer<typeof LineageNode>;
export const LineageEdge = z.object({ source: z.string(), target: z.string(), kind: z.enum(['input', 'output']) });
export type LineageEdge = z.infer<typeof LineageEdge>;
/** GET /projects/:entity/:project/lineage?node=<id>&depth=N&level=instance|type&direction=both|upstream|downstream */
export const LineageGraph = z.object({
  focus: z.string().nullable(),
  level: z.enum(['instance', 'type']),
  nodes: z.array(LineageNode),
  edges: z.array(LineageEdge),
  /** True when the graph was cut at `depth` or the node limit and more lies beyond. */
  truncated: z.boolean(),
});
export type LineageGraph = z.infer<typeof LineageGraph>;

// ---------------------------------------------------------------- events (SSE: GET /events)
/**
 * Events announce what changed and stay small whatever the user stores: a version without its
 * description and metadata, a run without its config and summary. Clients fetch those when
 * they need them. A subscriber that falls too far behind is disconnected; it reconnects and
 * resyncs (reloads what it shows), since events it missed are not replayed.
 */
export const EventVersion = ArtifactVersion.omit({ description: true, metadata: true });
export type EventVersion = z.infer<typeof EventVersion>;
export const EventRun = Run.omit({ config: true, summary: true });
export type EventRun = z.infer<typeof EventRun>;
export const ServerEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('version.created'), version: EventVersion }),
  z.object({ type: z.literal('version.updated'), version: EventVersion }),
  z.object({ type: z.literal('version.deleted'), version: EventVersion }),
  z.object({
    type: z.literal('alias.moved'),
    entity: ServerName,
    project: ServerName,
    name: ServerName,
    alias: ServerName,
    /** null when the alias was removed. */
    version: VersionLabel.nullable(),
    previous: VersionLabel.nullable(),
  }),
  z.object({ type: z.literal('run.updated'), run: EventRun }),
  /** History rows arrived (live charts): the run and the highest step now stored. */
  z.object({ type: z.literal('run.logged'), entity: ServerName, project: ServerName, runId: z.string(), lastStep: z.number().int().nonnegative() }),
]);
export type ServerEvent = z.infer<typeof ServerEvent>;
/** The project an event belongs to (events are only delivered to callers who may read it). */
export function eventProject(e: ServerEvent): { entity: string; project: string } {
  switch (e.type) {
    case 'alias.moved':
    case 'run.logged':
      return e;
    case 'run.updated':
      return e.run;
    default:
      return e.version;
  }
}

// ---------------------------------------------------------------- admin
/** POST /admin/gc */
export const GcRequest = z.object({ graceSeconds: z.number().int().nonnegative().optional(), dryRun: z.boolean().optional() });
export const GcResponse = z.object({
  deletedBlobs: z.number().int(),
  freedBytes: z.number().int(),
  keptYoung: z.number().int(),
  /** Versions whose time-to-live ran out, soft-deleted by this gc (`entity/project/name:vN`). */
  expiredVersions: z.array(z.string()).optional(),
  /**
   * Team mode, blobs in S3: small blobs live in pack objects, whose space comes back when the
   * whole pack is garbage (deleted) or mostly garbage (rewritten without the dead blobs).
   */
  packs: z.object({ deleted: z.number().int(), rewritten: z.number().int(), bytesReclaimed: z.number().int() }).optional(),
});
export type GcResponse = z.infer<typeof GcResponse>;

/** The route table, so clients and server name each path once. */
export const routes = {
  health: () => `${API_PREFIX}/health`,
  openapi: () => `${API_PREFIX}/openapi.json`,
  viewer: () => `${API_PREFIX}/viewer`,
  events: () => `${API_PREFIX}/events`,
  resolve: () => `${API_PREFIX}/resolve`,
  negotiate: () => `${API_PREFIX}/blobs/negotiate`,
  blob: (digest: string) => `${API_PREFIX}/blobs/${digest}`,
  blobsFlush: () => `${API_PREFIX}/blobs/flush`,
  blobBatch: () => `${API_PREFIX}/blobs/batch`,
  blobBatchGet: () => `${API_PREFIX}/blobs/batch-get`,
  blobsConfirm: () => `${API_PREFIX}/blobs/confirm`,
  gc: () => `${API_PREFIX}/admin/gc`,
  projects: () => `${API_PREFIX}/projects`,
  project: (e: string, p: string) => `${API_PREFIX}/projects/${enc(e)}/${enc(p)}`,
  artifactTypes: (e: string, p: string) => `${routes.project(e, p)}/artifact-types`,
  collections: (e: string, p: string) => `${routes.project(e, p)}/artifacts`,
  collection: (e: string, p: string, n: string) => `${routes.collections(e, p)}/${enc(n)}`,
  versions: (e: string, p: string, n: string) => `${routes.collection(e, p, n)}/versions`,
  relog: (e: string, p: string, n: string) => `${routes.collection(e, p, n)}/relog`,
  version: (e: string, p: string, n: string, sel: string) => `${routes.versions(e, p, n)}/${enc(sel)}`,
  manifest: (e: string, p: string, n: string, sel: string) => `${routes.version(e, p, n, sel)}/manifest`,
  consumers: (e: string, p: string, n: string, sel: string) => `${routes.version(e, p, n, sel)}/consumers`,
  pending: (e: string, p: string, n: string, id: string) => `${routes.collection(e, p, n)}/pending/${enc(id)}`,
  pendingFinish: (e: string, p: string, n: string, id: string) => `${routes.pending(e, p, n, id)}/finish`,
  runs: (e: string, p: string) => `${routes.project(e, p)}/runs`,
  run: (e: string, p: string, id: string) => `${routes.runs(e, p)}/${enc(id)}`,
  runHeartbeat: (e: string, p: string, id: string) => `${routes.run(e, p, id)}/heartbeat`,
  runHistory: (e: string, p: string, id: string) => `${routes.run(e, p, id)}/history`,
  runMetrics: (e: string, p: string, id: string) => `${routes.run(e, p, id)}/metrics`,
  runFiles: (e: string, p: string, id: string) => `${routes.run(e, p, id)}/files`,
  runInputs: (e: string, p: string, id: string) => `${routes.run(e, p, id)}/inputs`,
  runOutputs: (e: string, p: string, id: string) => `${routes.run(e, p, id)}/outputs`,
  links: (e: string, p: string, n: string) => `${routes.collection(e, p, n)}/links`,
  registries: () => `${API_PREFIX}/registries`,
  /** A registry's settings live on its project, `wandb-registry-NAME`. */
  registry: (e: string, name: string) => `${routes.project(e, REGISTRY_PREFIX + name)}/registry`,
  registryMembers: (e: string, name: string) => `${routes.registry(e, name)}/members`,
  registryMember: (e: string, name: string, kind: 'user' | 'team', member: string) => `${routes.registry(e, name)}/members/${kind}/${encodeURIComponent(member)}`,
  lineage: (e: string, p: string) => `${routes.project(e, p)}/lineage`,
  audit: (e: string, p: string) => `${routes.project(e, p)}/audit`,
  users: () => `${API_PREFIX}/users`,
  grants: () => `${API_PREFIX}/grants`,
  teams: () => `${API_PREFIX}/teams`,
  teamMembers: (team: string) => `${API_PREFIX}/teams/${enc(team)}/members`,
  keys: () => `${API_PREFIX}/keys`,
  key: (id: string) => `${API_PREFIX}/keys/${enc(id)}`,
} as const;

function enc(s: string): string {
  return encodeURIComponent(s);
}

/** Runs that stop heartbeating for this long are marked `crashed`. Clients beat every 10 s. */
export const HEARTBEAT_TIMEOUT_MS = 60_000;
export const HEARTBEAT_INTERVAL_MS = 10_000;
