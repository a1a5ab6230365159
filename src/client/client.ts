/**
 * The shared state behind Run, Artifact and Api: one HTTP client (keep-alive pool), the default
 * entity and project, and the local caches. Created once per process unless passed explicitly.
 */
import { defaultCacheDir, DEFAULT_PROJECT } from '../core/node/config.js';
import { validateProject } from '../core/names.js';
import { BlobCache } from './cache.js';
import { ManifestCache } from './manifestCache.js';
import { resolveConnection, whileCheckingHealth } from './connection.js';
import { StatCache } from './hash.js';
import { AmphoraHttp } from './http.js';
import type { z } from 'zod';
import type { MetricsQuery, RunMetrics, Viewer } from '../core/api.js';

export interface ClientOptions {
  baseUrl?: string;
  apiKey?: string;
  cacheDir?: string;
  env?: Record<string, string | undefined>;
  /** Called for every HTTP request (used by tests to count traffic). */
  onRequest?: (method: string, path: string) => void;
}

export class Client {
  readonly statCache: StatCache;
  readonly blobCache: BlobCache;
  readonly manifestCache: ManifestCache;

  private constructor(
    readonly http: AmphoraHttp,
    readonly entity: string,
    readonly defaultProject: string,
    readonly cacheDir: string,
    /** Who the key belongs to and their roles (GET /viewer at connect). */
    readonly viewer?: Viewer,
  ) {
    this.statCache = new StatCache(cacheDir);
    this.blobCache = new BlobCache(cacheDir);
    this.manifestCache = new ManifestCache(cacheDir);
  }

  static async connect(opts: ClientOptions = {}): Promise<Client> {
    const env = opts.env ?? process.env;
    // A server the caller named (a team server, often across a network) is asked who the key
    // belongs to alongside its health check: one round trip less. A discovered one is checked
    // first, so a stale discovery file never sends its key to whatever now listens on that port.
    const named = Boolean(opts.baseUrl ?? env.AMPHORA_BASE_URL);
    const conn = await resolveConnection({ baseUrl: opts.baseUrl, apiKey: opts.apiKey, env, verify: !named });
    const http = new AmphoraHttp({ ...conn, onRequest: opts.onRequest });
    const viewer = named ? await whileCheckingHealth(conn.baseUrl, (signal) => http.viewer(signal)) : await http.viewer();
    const project = env.AMPHORA_PROJECT ? validateProject(env.AMPHORA_PROJECT) : viewer.defaultProject || DEFAULT_PROJECT;
    return new Client(http, env.AMPHORA_ENTITY || viewer.entity, project, opts.cacheDir ?? defaultCacheDir(env), viewer);
  }

  /** A run's chart series, downsampled by the server (`min`/`max` in units of `x` for detail on zoom). */
  runMetrics(entity: string, project: string, runId: string, query: z.input<typeof MetricsQuery> = {}): Promise<RunMetrics> {
    return this.http.runMetrics(entity, project, runId, query);
  }

  async close(): Promise<void> {
    await this.statCache.flush().catch(() => {});
    await this.http.close();
  }
}

let shared: Promise<Client> | undefined;

/** The process-wide client (environment / discovery file), connected on first use. */
export function defaultClient(): Promise<Client> {
  shared ??= Client.connect().catch((e) => {
    shared = undefined;
    throw e;
  });
  return shared;
}

/** Forgets the process-wide client (after changing AMPHORA_* variables, or in tests). */
export async function resetDefaultClient(): Promise<void> {
  const c = shared;
  shared = undefined;
  if (c) await (await c.catch(() => undefined))?.close();
}
