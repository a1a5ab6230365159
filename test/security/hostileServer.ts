/**
 * A fake Amphora server on loopback (plain node:http) that answers just enough of the API for a
 * client to download a version or upload blobs, and lies wherever a scenario tells it to:
 * hostile digests and paths, wrong sizes, wrong bytes, transfer URLs pointing elsewhere.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { artifactDigest, type Manifest } from '../../src/core/node/manifest.js';

export const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

export interface Scenario {
  /** Fields that override the version the server describes (name, version, digest, size, …). */
  version?: Record<string, unknown>;
  /** The manifest entries it serves; its `digest` defaults to the honest artifact digest. */
  entries: Manifest;
  manifestDigest?: string;
  /** Bytes served per requested blob digest (by GET /blobs/:d and POST /blobs/batch-get). */
  blobs?: Record<string, Buffer>;
  /** Streams this many bytes of 'x' for any large blob GET instead (an endless-ish response). */
  floodBytes?: number;
  /** What POST /blobs/negotiate answers for each requested blob. */
  uploadUrl?: (digest: string) => string;
  /** Runs after half of a streamed blob is sent, before the rest (e.g. deletes the client's cache). */
  midBlob?: () => Promise<void>;
  /** Takes upload bodies but never answers (a stalled upload, for interrupting a client). */
  stallUploads?: boolean;
  /** Overrides the commit answer's version digest. */
  commitDigest?: string;
}

export interface Hostile {
  url: string;
  apiKey: string;
  requests: string[];
  scenario: Scenario;
  close(): Promise<void>;
}

function versionFor(s: Scenario): Record<string, unknown> {
  const entries = s.entries;
  const size = Object.values(entries).reduce((a, e) => a + (Number.isFinite(e.size) ? e.size : 0), 0);
  let digest: string;
  try {
    digest = artifactDigest(entries);
  } catch {
    digest = sha('x');
  }
  return {
    id: '1',
    entity: 'alice',
    project: 'probe',
    name: 'data',
    type: 'dataset',
    version: 'v0',
    index: 0,
    digest,
    size,
    fileCount: Object.keys(entries).length,
    aliases: ['latest'],
    description: null,
    metadata: {},
    state: 'committed',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    producerRun: null,
    ...s.version,
  };
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function json(res: ServerResponse, status: number, value: unknown) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startHostile(scenario: Scenario): Promise<Hostile> {
  const requests: string[] = [];
  const state = { scenario };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const p = url.pathname;
      requests.push(`${req.method} ${p}`);
      const s = state.scenario;
      const payload = await body(req);
      if (p === '/api/v1/health') return json(res, 200, { ok: true, version: '0.0.0-probe', mode: 'embedded' });
      if (p === '/api/v1/viewer') return json(res, 200, { entity: 'alice', defaultProject: 'probe' });
      if (p === '/api/v1/resolve') return json(res, 200, versionFor(s));
      if (/\/versions\/[^/]+\/manifest$/.test(p)) {
        const v = versionFor(s);
        return json(res, 200, { version: v.version, digest: s.manifestDigest ?? v.digest, entries: s.entries });
      }
      if (p === '/api/v1/blobs/negotiate') {
        const { blobs } = JSON.parse(payload.toString()) as { blobs: { digest: string; size: number }[] };
        return json(res, 200, { missing: blobs.map((b) => ({ ...b, uploadUrl: s.uploadUrl ? s.uploadUrl(b.digest) : `/api/v1/blobs/${b.digest}` })) });
      }
      if (p === '/api/v1/blobs/flush') {
        res.writeHead(204).end();
        return;
      }
      if (p === '/api/v1/blobs/batch-get') {
        const { digests } = JSON.parse(payload.toString()) as { digests: string[] };
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        for (const d of digests) res.write(s.blobs?.[d] ?? Buffer.alloc(0));
        res.end();
        return;
      }
      const blob = /^\/api\/v1\/blobs\/(.+)$/.exec(p);
      if (blob && req.method === 'GET') {
        if (s.floodBytes) {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          const chunk = Buffer.alloc(1 << 20, 'x');
          let sent = 0;
          const pump = () => {
            while (sent < s.floodBytes! && !res.destroyed) {
              sent += chunk.length;
              if (!res.write(chunk)) return void res.once('drain', pump);
            }
            res.end();
          };
          res.on('error', () => {});
          return pump();
        }
        const bytes = s.blobs?.[decodeURIComponent(blob[1])];
        if (!bytes) return json(res, 404, { error: { code: 'not_found', message: 'no such blob' } });
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
        if (s.midBlob) {
          const half = bytes.length >> 1;
          res.write(bytes.subarray(0, half));
          await s.midBlob();
          res.end(bytes.subarray(half));
          return;
        }
        res.end(bytes);
        return;
      }
      if (blob && req.method === 'PUT' && s.stallUploads) return;
      if (blob && req.method === 'PUT') return json(res, 201, { digest: blob[1], size: payload.length, created: true });
      if (p === '/api/v1/blobs/batch' && req.method === 'POST') return json(res, 201, { items: [] });
      if (/\/artifacts\/[^/]+\/versions$/.test(p) && req.method === 'POST') {
        const commit = JSON.parse(payload.toString()) as { manifest: Manifest };
        const v = { ...versionFor({ ...s, entries: commit.manifest }), ...(s.commitDigest ? { digest: s.commitDigest } : {}) };
        return json(res, 201, { version: v, created: true });
      }
      const now = '2026-01-01T00:00:00.000Z';
      const run = {
        entity: 'alice', project: 'probe', id: 'r1', name: 'probe-run-1', jobType: null, group: null, state: 'running',
        config: {}, summary: {}, createdAt: now, updatedAt: now, heartbeatAt: now, finishedAt: null,
      };
      if (/\/runs$/.test(p) && req.method === 'POST') return json(res, 201, run);
      if (/\/runs\/r1$/.test(p)) return json(res, 200, run);
      if (/\/runs\/r1\/[a-z]+$/.test(p)) {
        res.writeHead(204).end();
        return;
      }
      return json(res, 404, { error: { code: 'not_found', message: `the probe server has no ${req.method} ${p}` } });
    })().catch((e: unknown) => {
      if (!res.headersSent) json(res, 500, { error: { code: 'internal', message: String(e) } });
      else res.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    apiKey: 'probe-key',
    requests,
    get scenario() {
      return state.scenario;
    },
    set scenario(s: Scenario) {
      state.scenario = s;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A bystander HTTP server that records every request it gets (where a hostile URL points). */
export async function startBystander(): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => res.writeHead(200).end('{}'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
