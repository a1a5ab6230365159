/** Test helpers for server integration tests: a real server on a temp dir, raw HTTP via fetch. */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer, type StartServerOptions } from '../../src/server/index.js';
import { createTestDatabase, TEAM_DB } from '../support/postgres.js';
import { testBlobsFor } from '../support/testBlobs.js';

export { TEAM_DB };

/** Why an embedded-only test skips itself in the team-mode suite. */
export const EMBEDDED_ONLY = 'embedded-only (data dir lock, discovery file or PGlite): skipped with AMPHORA_TEST_DB=postgres';

/** `it`, except in the team-mode suite, where the test is listed as pending with the reason. */
export function itEmbedded(title: string, fn: Mocha.Func): Mocha.Test {
  return TEAM_DB ? it.skip(`${title} — ${EMBEDDED_ONLY}`, fn) : it(title, fn);
}

/**
 * Where a test server keeps its data. Embedded: the data dir. Team mode (AMPHORA_TEST_DB=postgres):
 * a fresh database in the test PostgreSQL cluster, blobs in `<dir>/blobs` (the same place tests
 * look for them embedded), and a shared key from AMPHORA_BOOTSTRAP_KEY.
 */
export async function testBackend(dir: string): Promise<{ options: Partial<StartServerOptions>; drop(): Promise<void> }> {
  // AMPHORA_TEST_BLOBS=s3: blobs in a bucket on the shared test s3rver.
  const s3 = await testBlobsFor(dir);
  if (!TEAM_DB) return { options: { dataDir: dir, blobs: s3 }, drop: async () => undefined };
  const db = await createTestDatabase();
  process.env.AMPHORA_BOOTSTRAP_KEY ??= `amp_test_${'k'.repeat(40)}`;
  return { options: { dataDir: dir, db: db.url, blobs: s3 ?? `file:${join(dir, 'blobs')}` }, drop: () => db.drop() };
}

export function tempDir(prefix = 'amphora-srv-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface TestServer {
  server: RunningServer;
  dir: string;
  api: Api;
  /** The PostgreSQL URL in team mode (AMPHORA_TEST_DB=postgres); undefined on PGlite. */
  dbUrl?: string;
  stop(): Promise<void>;
}

export async function startTestServer(opts: Partial<StartServerOptions> = {}): Promise<TestServer> {
  const dir = opts.dataDir ?? tempDir();
  const backend = await testBackend(dir);
  const server = await startServer({ quiet: true, ...backend.options, ...opts }).catch(async (e: unknown) => {
    await backend.drop();
    throw e;
  });
  return {
    server,
    dir,
    api: new Api(server.url, server.apiKey),
    dbUrl: backend.options.db,
    async stop() {
      await server.close();
      await backend.drop();
      if (!opts.dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Res<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** Minimal raw client: JSON in/out with the bearer key; independent of the SDK under test elsewhere. */
export class Api {
  constructor(
    readonly url: string,
    readonly key: string,
  ) {}

  async req<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res<T>> {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${this.key}`, ...headers } };
    if (body !== undefined) {
      if (typeof body === 'string' || body instanceof Uint8Array) {
        init.body = body as BodyInit;
      } else {
        init.body = JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] = 'application/json';
      }
    }
    const r = await fetch(this.url + path, init);
    const text = await r.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // keep text
    }
    return { status: r.status, body: parsed as T, headers: r.headers };
  }
  get<T = any>(path: string) {
    return this.req<T>('GET', path);
  }
  post<T = any>(path: string, body?: unknown) {
    return this.req<T>('POST', path, body ?? {});
  }
  patch<T = any>(path: string, body: unknown) {
    return this.req<T>('PATCH', path, body);
  }
  del<T = any>(path: string) {
    return this.req<T>('DELETE', path);
  }

  async putBlob(data: Buffer | string, digest = sha256(data)): Promise<Res> {
    return this.req('PUT', `/api/v1/blobs/${digest}`, typeof data === 'string' ? Buffer.from(data) : data, { 'content-type': 'application/octet-stream' });
  }

  /** Uploads the files, then commits them as a version. */
  async logVersion(
    project: string,
    name: string,
    type: string,
    files: Record<string, string | Buffer>,
    extra: { aliases?: string[]; runId?: string; description?: string; metadata?: Record<string, unknown>; entity?: string; tags?: string[]; ttlSeconds?: number; callSite?: { file: string; line: number } } = {},
  ): Promise<Res> {
    const manifest: Record<string, { digest: string; size: number }> = {};
    for (const [p, content] of Object.entries(files)) {
      const buf = typeof content === 'string' ? Buffer.from(content) : content;
      const digest = sha256(buf);
      const put = await this.putBlob(buf, digest);
      if (put.status >= 300) throw new Error(`blob upload failed: ${JSON.stringify(put.body)}`);
      manifest[p] = { digest, size: buf.length };
    }
    const entity = extra.entity ?? (await this.entity());
    return this.post(`/api/v1/projects/${entity}/${project}/artifacts/${name}/versions`, {
      type,
      manifest,
      aliases: extra.aliases,
      runId: extra.runId,
      description: extra.description,
      metadata: extra.metadata,
      tags: extra.tags,
      ttlSeconds: extra.ttlSeconds,
      callSite: extra.callSite,
    });
  }

  private cachedEntity?: string;
  async entity(): Promise<string> {
    this.cachedEntity ??= (await this.get('/api/v1/viewer')).body.entity as string;
    return this.cachedEntity;
  }
}
