/**
 * AmphoraHttp: one typed method per route of the API contract (src/core/api.ts). Every response
 * is parsed with its zod schema; every error body becomes an AmphoraError with the server's code
 * and message; a server that cannot be reached becomes `server_unreachable` with what to do.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, type Dispatcher } from './undici.js';
import type { z } from 'zod';
import * as api from '../core/api.js';
import { blobTarget } from './blobUrls.js';
import { AmphoraError, CommError, type ErrorCode } from '../core/errors.js';
import { checkReceivedManifest, requireBlobDigest, storageOriginsFrom } from '../core/node/received.js';
import { retryStorage, storageError, type RetryOptions } from './storageRetry.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Query = { [k: string]: string | number | boolean | undefined | null } | object;

export interface HttpOptions {
  baseUrl: string;
  apiKey: string;
  /** Concurrent connections per origin (keep-alive). */
  connections?: number;
  /** Called once per request (tests count requests with it). */
  onRequest?: (method: string, path: string) => void;
  /** Origins besides the server's that transfer URLs may point at (default: AMPHORA_STORAGE_ORIGINS). */
  storageOrigins?: ReadonlySet<string>;
}

export interface Paged {
  limit?: number;
  cursor?: string;
}

const KNOWN_CODES = new Set<string>([
  'invalid_name', 'invalid_type', 'invalid_alias', 'invalid_reference', 'invalid_path', 'invalid_manifest',
  'invalid_request', 'type_mismatch', 'not_found', 'conflict', 'aliased_version', 'digest_mismatch',
  'missing_blobs', 'unauthorized', 'forbidden', 'payload_too_large', 'unsupported', 'server_unreachable',
  'reference_changed', 'internal',
]);

function statusCode(status: number): ErrorCode {
  if (status === 404) return 'not_found';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 409) return 'conflict';
  if (status === 413) return 'payload_too_large';
  if (status >= 400 && status < 500) return 'invalid_request';
  return 'internal';
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'EAI_AGAIN']);

export function unreachableError(baseUrl: string, cause?: unknown): AmphoraError {
  const why = cause instanceof Error ? ` (${(cause as NodeJS.ErrnoException).code ?? cause.message})` : '';
  return new CommError(
    'server_unreachable',
    `Cannot reach the Amphora server at ${baseUrl}${why}. Start one with \`amphora serve\`, or set AMPHORA_BASE_URL (and AMPHORA_API_KEY) to a running server.`,
  );
}

function isConnectError(e: unknown): boolean {
  const err = e as { code?: string; cause?: { code?: string } };
  return UNREACHABLE.has(err?.code ?? '') || UNREACHABLE.has(err?.cause?.code ?? '');
}

export class AmphoraHttp {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly agent: Agent;
  private readonly origin: string;
  readonly prefix: string;
  private readonly onRequest?: (method: string, path: string) => void;
  readonly storageOrigins: ReadonlySet<string>;

  constructor(opts: HttpOptions) {
    const u = new URL(opts.baseUrl);
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.origin = u.origin;
    // A base URL may carry a path prefix (behind a proxy); routes are appended to it.
    this.prefix = u.pathname.replace(/\/+$/, '');
    this.apiKey = opts.apiKey;
    this.onRequest = opts.onRequest;
    this.storageOrigins = opts.storageOrigins ?? storageOriginsFrom(process.env);
    this.agent = new Agent({ connections: opts.connections ?? 16, keepAliveTimeout: 30_000, pipelining: 1 });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  // ------------------------------------------------------------------ plumbing

  private headers(extra?: Record<string, string>): Record<string, string> {
    return { authorization: `Bearer ${this.apiKey}`, ...extra };
  }

  private target(path: string, query?: Query): { origin: string; path: string } {
    let p = this.prefix + path;
    if (query) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(query as Record<string, unknown>)) if (v !== undefined && v !== null) qs.set(k, String(v as string));
      const s = qs.toString();
      if (s) p += `?${s}`;
    }
    return { origin: this.origin, path: p };
  }

  /** Sends a request; returns the raw response for 2xx, throws AmphoraError otherwise. */
  async raw(
    method: Method,
    path: string,
    opts: { query?: Query; body?: Dispatcher.DispatchOptions['body']; headers?: Record<string, string>; url?: string; signal?: AbortSignal; acceptRedirect?: boolean } = {},
  ): Promise<Dispatcher.ResponseData> {
    const t = opts.url ? (() => { const u = new URL(opts.url!); return { origin: u.origin, path: u.pathname + u.search }; })() : this.target(path, opts.query);
    this.onRequest?.(method, t.path);
    let res: Dispatcher.ResponseData;
    try {
      res = await this.agent.request({
        origin: t.origin,
        path: t.path,
        method,
        // The API key goes only to our own server, never to a foreign upload URL (presigned S3).
        headers: t.origin === this.origin ? this.headers(opts.headers) : { ...opts.headers },
        body: opts.body,
        signal: opts.signal,
        headersTimeout: 600_000,
        bodyTimeout: 600_000,
      });
    } catch (e) {
      if (isConnectError(e) && t.origin !== this.origin) {
        throw new AmphoraError('server_unreachable', `Cannot reach the storage at ${t.origin} (${(e as { code?: string }).code ?? (e as Error).message}) that the server handed out for this transfer; check that this machine can reach the server's S3 endpoint.`);
      }
      if (isConnectError(e)) throw unreachableError(this.baseUrl, e);
      throw e;
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    if (opts.acceptRedirect && (res.statusCode === 302 || res.statusCode === 303 || res.statusCode === 307) && res.headers.location) return res;
    if (t.origin !== this.origin) {
      const text = await res.body.text().catch(() => '');
      throw storageError(t.origin, method, res.statusCode, text, res.headers['retry-after']);
    }
    throw await errorFrom(res, method, t.path);
  }

  private async json<S extends z.ZodTypeAny>(method: Method, path: string, schema: S, opts: { query?: Query; body?: unknown; signal?: AbortSignal } = {}): Promise<z.infer<S>> {
    const res = await this.raw(method, path, {
      query: opts.query,
      signal: opts.signal,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      headers: opts.body === undefined ? undefined : { 'content-type': 'application/json' },
    });
    const data = res.statusCode === 204 ? {} : await res.body.json();
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      throw new AmphoraError('internal', `The server's answer to ${method} ${path} does not match the API contract (${parsed.error.issues[0]?.message ?? 'invalid'} at ${parsed.error.issues[0]?.path.join('.') ?? '?'}); client and server versions may differ — upgrade both.`);
    }
    return parsed.data;
  }

  private async noContent(method: Method, path: string, opts: { query?: Query; body?: unknown } = {}): Promise<void> {
    const res = await this.raw(method, path, {
      query: opts.query,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      headers: opts.body === undefined ? undefined : { 'content-type': 'application/json' },
    });
    await res.body.dump();
  }

  // ------------------------------------------------------------------ health, identity
  health() { return this.json('GET', api.routes.health(), api.Health); }
  async openapi(): Promise<unknown> { return (await this.raw('GET', api.routes.openapi())).body.json(); }
  viewer(signal?: AbortSignal) { return this.json('GET', api.routes.viewer(), api.Viewer, { signal }); }
  resolve(ref: string) { return this.json('GET', api.routes.resolve(), api.ResolveResponse, { query: { ref } }); }

  // ------------------------------------------------------------------ projects
  projects() { return this.json('GET', api.routes.projects(), api.ProjectList); }
  artifactTypes(e: string, p: string) { return this.json('GET', api.routes.artifactTypes(e, p), api.ArtifactTypeList); }

  // ------------------------------------------------------------------ runs
  createRun(e: string, p: string, body: z.infer<typeof api.CreateRunRequest>) { return this.json('POST', api.routes.runs(e, p), api.Run, { body }); }
  listRuns(e: string, p: string, q: Paged & { jobType?: string; group?: string; state?: string } = {}) { return this.json('GET', api.routes.runs(e, p), api.RunList, { query: q }); }
  getRun(e: string, p: string, id: string) { return this.json('GET', api.routes.run(e, p, id), api.Run); }
  updateRun(e: string, p: string, id: string, body: z.infer<typeof api.UpdateRunRequest>) { return this.json('PATCH', api.routes.run(e, p, id), api.Run, { body }); }
  heartbeat(e: string, p: string, id: string) { return this.noContent('POST', api.routes.runHeartbeat(e, p, id)); }
  appendHistory(e: string, p: string, id: string, body: z.infer<typeof api.AppendHistoryRequest>) { return this.noContent('POST', api.routes.runHistory(e, p, id), { body }); }
  history(e: string, p: string, id: string, q: { limit?: number; offset?: number; minStep?: number; maxStep?: number } = {}) { return this.json('GET', api.routes.runHistory(e, p, id), api.HistoryList, { query: q }); }
  /** Chart series of a run, downsampled by the server (`min`/`max` in units of `x` for detail). */
  runMetrics(e: string, p: string, id: string, q: z.input<typeof api.MetricsQuery> = {}) { return this.json('GET', api.routes.runMetrics(e, p, id), api.RunMetrics, { query: q }); }
  putRunFiles(e: string, p: string, id: string, body: z.infer<typeof api.PutRunFilesRequest>) { return this.noContent('PUT', api.routes.runFiles(e, p, id), { body }); }
  runFiles(e: string, p: string, id: string) { return this.json('GET', api.routes.runFiles(e, p, id), api.RunFileList); }
  useArtifact(e: string, p: string, id: string, ref: string, callSite?: api.CallSite) { return this.json('POST', api.routes.runInputs(e, p, id), api.ArtifactVersion, { body: { ref, callSite } }); }
  runInputs(e: string, p: string, id: string) { return this.json('GET', api.routes.runInputs(e, p, id), api.RunArtifacts); }
  runOutputs(e: string, p: string, id: string) { return this.json('GET', api.routes.runOutputs(e, p, id), api.RunArtifacts); }

  // ------------------------------------------------------------------ blobs
  /** Which blobs the server lacks; every answer must be one we asked about, with a transfer URL we may use. */
  async negotiate(blobs: { digest: string; size: number }[]) {
    const res = await this.json('POST', api.routes.negotiate(), api.NegotiateResponse, { body: { blobs } });
    const asked = new Map(blobs.map((b) => [b.digest, b.size]));
    for (const m of res.missing) {
      if (asked.get(m.digest) !== m.size) {
        throw new AmphoraError('internal', `The server asked for blob ${m.digest} (${m.size} bytes), which this upload does not contain; the server is broken or not trustworthy. Retry; if it persists ask its administrator.`);
      }
      const handedOut = Boolean(m.confirm);
      if (m.uploadUrl) blobTarget(m.uploadUrl, this, m.digest, handedOut);
      for (const p of m.parts ?? []) blobTarget(p.url, this, m.digest, true);
    }
    return res;
  }
  flushBlobs() { return this.noContent('POST', api.routes.blobsFlush()); }

  /**
   * Uploads a blob from bytes in hand (small files) or streamed from a file (never whole in memory)
   * to the URL negotiated for it (checked by blobTarget); `handedOut` marks a storage URL;
   * `onBytes` hears about every chunk of a streamed file as it is handed to the socket.
   */
  async putBlob(digest: string, source: string | Buffer, size: number, uploadUrl?: string, extraHeaders?: Record<string, string>, handedOut = false, onBytes?: (n: number) => void): Promise<void> {
    const body = async (): Promise<Readable | Buffer> =>
      typeof source !== 'string' ? source : size <= 256 * 1024 ? readFile(source) : counted(createReadStream(source, { highWaterMark: 1 << 20 }), onBytes);
    requireBlobDigest(digest, 'an upload');
    const target = uploadUrl ? blobTarget(uploadUrl, this, digest, handedOut) : { own: true as const, path: api.routes.blob(digest) };
    const res = await this.storageRetry(target, async () =>
      this.raw('PUT', target.own ? target.path : '', {
        url: target.own ? undefined : target.url,
        body: await body(),
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(size), ...extraHeaders },
      }),
    );
    // The status says it all (2xx = stored); skip parsing the small answer.
    await res.body.dump();
  }

  /** Uploads one part of a multipart upload (bytes [offset, offset + size) of the file) to its storage URL; returns its ETag. */
  async putBlobPart(digest: string, source: string | Buffer, part: { number: number; offset: number; size: number; url: string }): Promise<string> {
    const target = blobTarget(part.url, this, digest, true);
    const body = () => (typeof source === 'string' ? createReadStream(source, { start: part.offset, end: part.offset + part.size - 1, highWaterMark: 1 << 20 }) : source.subarray(part.offset, part.offset + part.size));
    const res = await this.storageRetry(target, () => this.raw('PUT', target.own ? target.path : '', { url: target.own ? undefined : target.url, body: body(), headers: { 'content-length': String(part.size) } }));
    await res.body.dump();
    const etag = res.headers.etag;
    if (typeof etag !== 'string' || !etag) throw new AmphoraError('internal', `The storage answered part ${part.number} of blob ${digest.slice(0, 12)}… without an ETag; the multipart upload cannot be completed. Upload again.`);
    return etag;
  }

  /**
   * Storage requests (presigned URLs) are retried with back-off on a dropped connection or a
   * 5xx/429 (see storageRetry.ts); each try sends a fresh body. Our own server's errors are not
   * retried here.
   */
  private storageRetry(target: { own: boolean }, send: () => Promise<Dispatcher.ResponseData>): Promise<Dispatcher.ResponseData> {
    return target.own ? send() : retryStorage(send, this.storageRetryOptions);
  }

  /** Attempts and back-off of storage retries (tests shorten the waits). */
  storageRetryOptions: RetryOptions = {};

  /** POST /blobs/confirm: the server verifies blobs uploaded straight to storage. */
  confirmBlobs(blobs: z.infer<typeof api.ConfirmBlobsRequest>['blobs']) { return this.json('POST', api.routes.blobsConfirm(), api.ConfirmBlobsResponse, { body: { blobs } }); }

  /** False once the server answered that it has no batch routes (older server): use per-blob requests. */
  batchSupported = true;

  /**
   * Uploads many small blobs in one request (POST /blobs/batch): a JSON header line, then the
   * bytes back to back. Bytes come from memory when in hand, else are read file by file.
   */
  async putBlobBatch(blobs: { digest: string; size: number; source: string | Buffer }[]): Promise<void> {
    const header = Buffer.from(JSON.stringify({ blobs: blobs.map(({ digest, size }) => ({ digest, size })) }) + '\n');
    const total = header.length + blobs.reduce((a, b) => a + b.size, 0);
    async function* body() {
      yield header;
      for (const b of blobs) {
        const bytes = typeof b.source === 'string' ? await readFile(b.source) : b.source;
        if (bytes.length !== b.size) {
          throw new AmphoraError('invalid_path', `${typeof b.source === 'string' ? b.source : 'A file'} changed while being uploaded (${bytes.length} bytes, expected ${b.size}); log it again.`);
        }
        yield bytes;
      }
    }
    const res = await this.raw('POST', api.routes.blobBatch(), {
      body: Readable.from(body(), { objectMode: false }),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(total) },
    });
    await res.body.dump();
  }

  /** Downloads many blobs in one response (POST /blobs/batch-get): their bytes back to back. */
  async getBlobBatch(digests: string[]): Promise<Readable> {
    const res = await this.raw('POST', api.routes.blobBatchGet(), {
      body: JSON.stringify({ digests }),
      headers: { 'content-type': 'application/json' },
    });
    return res.body;
  }

  /** Streams a blob's bytes into `sink`. */
  async getBlobTo(digest: string, sink: Writable): Promise<void> {
    await pipeline(await this.getBlobStream(digest), sink);
  }

  /** A blob's bytes: from the server, or from the storage URL it redirects to (team mode, large blobs). */
  async getBlobStream(digest: string): Promise<Readable> {
    const res = await this.raw('GET', api.routes.blob(requireBlobDigest(digest, 'a download')), { acceptRedirect: true });
    if (res.statusCode < 300) return res.body;
    await res.body.dump();
    const target = blobTarget(String(res.headers.location), this, digest, true);
    return (await this.storageRetry(target, () => this.raw('GET', target.own ? target.path : '', { url: target.own ? undefined : target.url }))).body;
  }

  // ------------------------------------------------------------------ artifacts
  collections(e: string, p: string, q: Paged & { type?: string } = {}) { return this.json('GET', api.routes.collections(e, p), api.CollectionList, { query: q }); }
  collection(e: string, p: string, n: string) { return this.json('GET', api.routes.collection(e, p, n), api.ArtifactCollection); }
  versions(e: string, p: string, n: string, q: Paged = {}) { return this.json('GET', api.routes.versions(e, p, n), api.VersionList, { query: q }); }
  version(e: string, p: string, n: string, sel: string) { return this.json('GET', api.routes.version(e, p, n, sel), api.ArtifactVersion); }
  /**
   * A version's manifest, checked like an upload before anyone turns it into paths (see
   * core/received.ts): its entries must hash to the digest it names, and that must be the
   * version's when the caller knows the version (then its file count and size are checked too).
   */
  async manifest(e: string, p: string, n: string, sel: string, version: { what?: string; digest?: string; fileCount?: number; size?: number } = {}) {
    const m = await this.json('GET', api.routes.manifest(e, p, n, sel), api.ManifestResponse);
    const what = version.what ?? `${e}/${p}/${n}:${sel}`;
    if (version.digest !== undefined && m.digest !== version.digest) {
      throw new AmphoraError('invalid_manifest', `The server sent a manifest for ${what} that names artifact digest ${m.digest}, not the version's ${version.digest}; nothing was written. The server is broken or not trustworthy: ask its administrator, or check AMPHORA_BASE_URL.`);
    }
    checkReceivedManifest(m.entries, { what, digest: m.digest, fileCount: version.fileCount, size: version.size });
    return m;
  }
  consumers(e: string, p: string, n: string, sel: string) { return this.json('GET', api.routes.consumers(e, p, n, sel), api.RunRefList); }
  commitVersion(e: string, p: string, n: string, body: z.infer<typeof api.CommitVersionRequest>) { return this.json('POST', api.routes.versions(e, p, n), api.CommitVersionResponse, { body }); }
  relogVersion(e: string, p: string, n: string, body: z.infer<typeof api.RelogVersionRequest>) { return this.json('POST', api.routes.relog(e, p, n), api.CommitVersionResponse, { body }); }
  updateVersion(e: string, p: string, n: string, sel: string, body: z.infer<typeof api.UpdateVersionRequest>) { return this.json('PATCH', api.routes.version(e, p, n, sel), api.ArtifactVersion, { body }); }
  deleteVersion(e: string, p: string, n: string, sel: string, deleteAliases = false) {
    return this.json('DELETE', api.routes.version(e, p, n, sel), api.DeleteVersionResponse, { query: { deleteAliases: deleteAliases ? 'true' : undefined } });
  }
  upsertPending(e: string, p: string, n: string, id: string, body: z.infer<typeof api.UpsertPendingRequest>) { return this.json('POST', api.routes.pending(e, p, n, id), api.PendingVersion, { body }); }
  finishPending(e: string, p: string, n: string, id: string, body: z.infer<typeof api.FinishPendingRequest>) { return this.json('POST', api.routes.pendingFinish(e, p, n, id), api.CommitVersionResponse, { body }); }

  // ------------------------------------------------------------------ registries
  linkVersion(e: string, p: string, n: string, body: z.infer<typeof api.LinkVersionRequest>) { return this.json('POST', api.routes.links(e, p, n), api.LinkVersionResponse, { body }); }
  registries(entity?: string) { return this.json('GET', api.routes.registries(), api.RegistryList, { query: { entity } }); }
  registry(e: string, name: string) { return this.json('GET', api.routes.registry(e, name), api.Registry); }
  createRegistry(e: string, name: string, body: z.infer<typeof api.CreateRegistryRequest>) { return this.json('PUT', api.routes.registry(e, name), api.Registry, { body }); }
  updateRegistry(e: string, name: string, body: z.infer<typeof api.UpdateRegistryRequest>) { return this.json('PATCH', api.routes.registry(e, name), api.Registry, { body }); }
  deleteRegistry(e: string, name: string) { return this.json('DELETE', api.routes.registry(e, name), api.Registry); }
  registryMembers(e: string, name: string) { return this.json('GET', api.routes.registryMembers(e, name), api.RegistryMemberList); }
  addRegistryMembers(e: string, name: string, body: z.infer<typeof api.AddRegistryMembersRequest>) { return this.json('POST', api.routes.registryMembers(e, name), api.RegistryMemberList, { body }); }
  updateRegistryMember(e: string, name: string, kind: 'user' | 'team', member: string, role: api.RegistryRole) { return this.json('PATCH', api.routes.registryMember(e, name, kind, member), api.RegistryMember, { body: { role } }); }
  removeRegistryMember(e: string, name: string, kind: 'user' | 'team', member: string) { return this.json('DELETE', api.routes.registryMember(e, name, kind, member), api.RegistryMember); }

  // ------------------------------------------------------------------ lineage, admin
  lineage(e: string, p: string, q: { node?: string; depth?: number; level?: 'instance' | 'type'; direction?: 'both' | 'upstream' | 'downstream' }) {
    return this.json('GET', api.routes.lineage(e, p), api.LineageGraph, { query: q });
  }
  gc(body: z.infer<typeof api.GcRequest>) { return this.json('POST', api.routes.gc(), api.GcResponse, { body }); }
  audit(e: string, p: string, q: Paged = {}) { return this.json('GET', api.routes.audit(e, p), api.AuditList, { query: q }); }

  // ------------------------------------------------------------------ users, teams, keys (team mode)
  users() { return this.json('GET', api.routes.users(), api.UserList); }
  createUser(body: z.infer<typeof api.CreateUserRequest>) { return this.json('POST', api.routes.users(), api.CreateUserResponse, { body }); }
  grant(body: z.infer<typeof api.GrantRequest>) { return this.json('POST', api.routes.grants(), api.Grant, { body }); }
  revokeGrant(query: z.infer<typeof api.RevokeGrantQuery>) { return this.json('DELETE', api.routes.grants(), api.Grant, { query }); }
  createTeam(body: z.infer<typeof api.CreateTeamRequest>) { return this.json('POST', api.routes.teams(), api.Team, { body }); }
  addTeamMember(team: string, body: z.infer<typeof api.AddMemberRequest>) { return this.json('POST', api.routes.teamMembers(team), api.Team, { body }); }
  keys(user?: string) { return this.json('GET', api.routes.keys(), api.ApiKeyList, { query: { user } }); }
  createKey(body: z.infer<typeof api.CreateKeyRequest>) { return this.json('POST', api.routes.keys(), api.CreateKeyResponse, { body }); }
  revokeKey(id: string) { return this.json('DELETE', api.routes.key(id), api.ApiKeyInfo); }

  /** Opens the SSE stream (see events.ts). */
  events(signal?: AbortSignal, lastEventId?: string) {
    return this.raw('GET', api.routes.events(), { signal, headers: { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) } });
  }
}

/** The stream itself, or a pass-through that reports each chunk's length on its way. */
function counted(source: Readable, onBytes?: (n: number) => void): Readable {
  if (!onBytes) return source;
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      cb(null, chunk);
    },
  });
  pipeline(source, out).catch(() => {}); // an error destroys `out`, which fails the request
  return out;
}

async function errorFrom(res: Dispatcher.ResponseData, method: string, path: string): Promise<AmphoraError> {
  const text = await res.body.text().catch(() => '');
  try {
    const parsed = api.ErrorBody.safeParse(JSON.parse(text));
    if (parsed.success) {
      const { code, message, details } = parsed.data.error;
      return new CommError((KNOWN_CODES.has(code) ? code : statusCode(res.statusCode)) as ErrorCode, message, details);
    }
  } catch {
    /* not JSON: fall through */
  }
  return new CommError(
    statusCode(res.statusCode),
    `${method} ${path} failed with HTTP ${res.statusCode}${text ? `: ${text.slice(0, 200)}` : ''}. Check that AMPHORA_BASE_URL points at an Amphora server.`,
  );
}
