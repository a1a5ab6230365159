/**
 * OpenAPI-driven fuzzer: walks every route of the server's own /api/v1/openapi.json with a fixed
 * seed, sending valid-ish and hostile values (path, query, headers, JSON and raw bodies). The
 * server must never answer 5xx, never take over 5 s, and stay up; its RSS growth is reported.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { onListening } from '../support/serverLines.js';
import { Api, sha256, tempDir } from '../integration/server-helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SEED = 20261202;
const REQUESTS = 2000;
const PARALLEL = 8;
const HANG_MS = 5000;

/** mulberry32: small, fast, and the same sequence everywhere for one seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
    chance: (p: number) => next() < p,
  };
}
type Rng = ReturnType<typeof rng>;

/** Strings that have broken servers: encodings, NUL, traversal, huge numbers, injection, length. */
const HOSTILE_STRINGS = [
  '', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udfff', '..', '../../etc/passwd', '/etc/passwd', '.', '%00', '%2e%2e%2f', 'v2147483648',
  'v999999999999999999999', 'v-1', 'v01', 'latest', 'LATEST', 'v0', 'best', '-1', '0', '1e309', 'NaN', 'Infinity', 'null', 'true', '[]', '{}',
  "' OR 1=1 --", '"; DROP TABLE versions; --', '$1', '\\', 'a/b', 'a:b', 'a:b:c', 'e/p/n:v0', 'ü日本語', '😀'.repeat(40), 'x'.repeat(129),
  'y'.repeat(5000), '\r\nX-Injected: 1', '<script>alert(1)</script>', '__proto__', 'constructor', 'toString', '\u202e', '\ufeff',
];
/** Raw path segments sent without encoding (already percent-encoded, some invalidly). */
const HOSTILE_SEGMENTS = ['%00', '%ZZ', '%C0%AF', '%ED%A0%80', '%FF', '..%2F..%2F', '%2e%2e', 'a%2Fb', '%25', 'v2147483648', 'v999999999999999999999', '%0d%0a', 'x'.repeat(600)];
const RANGES = ['bytes=5-2', 'bytes=-0', 'bytes=0-0', 'bytes=0-', 'bytes=-1', 'bytes=1-3', 'bytes=99999999999999999999-', 'bytes=0-1,2-3', 'bytes=abc', 'items=0-1', 'bytes=-', 'bytes=4-4'];
const CONTENT_TYPES = ['application/json', 'text/plain', 'application/octet-stream', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/x-www-form-urlencoded'];

interface Seeded {
  entity: string;
  project: string;
  name: string;
  runId: string;
  digest: string;
  digestBytes: Buffer;
}

/** A value for a JSON-schema node: mostly valid, sometimes hostile. */
function fromSchema(r: Rng, schema: any, s: Seeded, depth = 0): unknown {
  if (!schema || depth > 6) return r.pick([null, 1, 'x', {}, []]);
  if (r.chance(0.08)) return r.pick<unknown>([null, -1, 1e308, 2 ** 53, 'str', true, [], {}, r.pick(HOSTILE_STRINGS)]);
  if (schema.anyOf || schema.oneOf) return fromSchema(r, r.pick(schema.anyOf ?? schema.oneOf), s, depth + 1);
  if (schema.enum) return r.pick(schema.enum);
  if (schema.const !== undefined) return schema.const;
  const type = Array.isArray(schema.type) ? r.pick(schema.type) : schema.type;
  switch (type) {
    case 'string':
      if (schema.pattern === '^[0-9a-f]{64}$') return r.chance(0.6) ? s.digest : r.pick([sha256(String(r.next())), 'A'.repeat(64), '../'.repeat(21) + 'x', s.digest.slice(1)]);
      return r.chance(0.5) ? r.pick([s.name, s.project, s.entity, 'dataset', 'latest', 'best', 'data/train.csv', s.runId, 'https://example.invalid/x']) : r.pick(HOSTILE_STRINGS);
    case 'integer':
    case 'number':
      return r.pick([0, 1, 2, 10, -1, 1.5, 2 ** 31, 2 ** 53 + 2, 1e300, schema.maximum ?? 5, schema.minimum ?? 0]);
    case 'boolean':
      return r.chance(0.5);
    case 'array': {
      const n = r.pick([0, 1, 2, 3, r.chance(0.05) ? 200 : 1]);
      return Array.from({ length: n }, () => fromSchema(r, schema.items, s, depth + 1));
    }
    case 'object':
    case undefined: {
      const out: Record<string, unknown> = {};
      for (const [k, sub] of Object.entries<any>(schema.properties ?? {})) {
        if (schema.required?.includes(k) ? r.chance(0.95) : r.chance(0.5)) out[k] = fromSchema(r, sub, s, depth + 1);
      }
      if (schema.additionalProperties && typeof schema.additionalProperties === 'object' && Object.keys(schema.additionalProperties).length) {
        for (let i = r.int(3); i > 0; i--) {
          const key = r.chance(0.7) ? r.pick(['data/a.txt', 'b.bin', 'x/y/z.csv', 'a']) : r.pick(HOSTILE_STRINGS);
          out[key] = r.chance(0.5) ? { digest: s.digest, size: s.digestBytes.length } : fromSchema(r, schema.additionalProperties, s, depth + 1);
        }
      } else if (schema.additionalProperties !== false && r.chance(0.3)) {
        out[r.pick(['k', 'nested', '__proto__', 'constructor', 'a\u0000', '\ud800'])] = r.pick<unknown>([1, 'v', { deep: [1, { x: null }] }, 'z'.repeat(10_000)]);
      }
      return out;
    }
    default:
      return null;
  }
}

/** Percent-encodes a path segment; a lone surrogate goes out as the invalid UTF-8 it would be. */
function encodeSegment(v: string): string {
  try {
    return encodeURIComponent(v);
  } catch {
    return '%ED%A0%80';
  }
}

function pathValue(r: Rng, name: string, s: Seeded): string {
  if (r.chance(0.15)) return r.pick(HOSTILE_SEGMENTS);
  if (r.chance(0.2)) return encodeSegment(r.pick(HOSTILE_STRINGS)) || 'x';
  const valid: Record<string, string[]> = {
    entity: [s.entity],
    project: [s.project, 'other'],
    name: [s.name, 'missing'],
    selector: ['latest', 'v0', 'v1', 'best', 'v3'],
    runId: [s.runId, 'nosuchrun'],
    distributedId: ['g1', 'g2'],
    digest: [s.digest, sha256('absent')],
  };
  return encodeURIComponent(r.pick(valid[name] ?? ['x']));
}

function queryValue(r: Rng, name: string, schema: any, s: Seeded): string {
  if (name === 'cursor' && r.chance(0.6)) {
    return r.pick([
      Buffer.from(JSON.stringify(r.pick<unknown>([1e300, 2 ** 31, -5, 3, 'name', [1], JSON.stringify(['2026-01-01T00:00:00.000Z', 'abc']), JSON.stringify(['x', 1])]))).toString('base64url'),
      'not-base64!!',
      '',
    ]);
  }
  if (name === 'ref' && r.chance(0.5)) return r.pick([`${s.project}/${s.name}:v0`, `${s.entity}/${s.project}/${s.name}:best`, `${s.project}/${s.name}:v999999999999999999999`, 'a/b/c/d', ':', `${s.name}:`]);
  if (name === 'node' && r.chance(0.5)) return r.pick(['artifact:1', 'run:' + s.runId, 'artifact:99999999999999999999', 'artifact:-1', 'run:', 'artifactType:dataset', 'bogus', 'artifact:1\u0000']);
  const v = fromSchema(r, schema, s);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

interface Request {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

function buildRequest(r: Rng, route: { method: string; template: string; op: any }, s: Seeded, key: string): Request {
  const headers: Record<string, string> = {};
  const auth = r.next();
  headers.authorization = auth < 0.03 ? 'Bearer wrong' : auth < 0.05 ? 'Basic Zm9vOmJhcg==' : `Bearer ${key}`;
  let path = route.template.replace(/\{(\w+)\}/g, (_, name: string) => pathValue(r, name, s));
  const params = new URLSearchParams();
  for (const p of route.op.parameters ?? []) {
    if (p.in === 'query' && r.chance(0.7)) params.append(p.name, queryValue(r, p.name, p.schema, s));
  }
  if (r.chance(0.05)) params.append(r.pick(['limit', 'zzz', 'cursor']), r.pick(HOSTILE_STRINGS));
  const q = params.toString();
  if (q) path += `?${q}`;
  if (route.template === '/api/v1/blobs/{digest}' && route.method === 'GET' && r.chance(0.5)) headers.range = r.pick(RANGES);

  let body: string | Buffer | undefined;
  const json = route.op.requestBody?.content?.['application/json']?.schema;
  if (route.template === '/api/v1/blobs/{digest}' && route.method === 'PUT') {
    const bytes = r.chance(0.5) ? s.digestBytes : Buffer.from(`fuzz ${r.next()}`);
    body = r.chance(0.2) ? bytes.subarray(0, Math.max(0, bytes.length - 1)) : bytes;
    path = r.chance(0.6) ? `/api/v1/blobs/${sha256(bytes)}` : path;
    headers['content-type'] = r.pick(['application/octet-stream', 'application/json', 'text/plain']);
  } else if (route.template === '/api/v1/blobs/batch') {
    const bytes = Buffer.from(`batch ${r.next()}`);
    const header = r.pick([
      JSON.stringify({ blobs: [{ digest: sha256(bytes), size: bytes.length }] }),
      JSON.stringify({ blobs: [{ digest: sha256(bytes), size: bytes.length + 5 }] }),
      JSON.stringify({ blobs: [{ digest: 'x', size: -1 }] }),
      JSON.stringify({ blobs: [{ digest: sha256(bytes), size: 1e15 }] }),
      '{"blobs":' + '['.repeat(3000),
      'not json',
      '',
    ]);
    body = Buffer.concat([Buffer.from(header + (r.chance(0.9) ? '\n' : '')), bytes, r.chance(0.2) ? Buffer.from('trailing') : Buffer.alloc(0)]);
    headers['content-type'] = 'application/octet-stream';
  } else if (json || (route.method !== 'GET' && r.chance(0.1))) {
    const kind = r.next();
    if (kind < 0.75) body = JSON.stringify(fromSchema(r, json ?? { type: 'object' }, s));
    else if (kind < 0.82) body = '{"metadata":' + '{"a":'.repeat(5000) + '1' + '}'.repeat(5000) + '}';
    else if (kind < 0.88) body = r.pick(['{', '{"a":1,}', 'null', '[]', '"str"', '1', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"x":1}}}', '\u0000']);
    else if (kind < 0.94) body = JSON.stringify({ metadata: { big: 'q'.repeat(r.pick([1000, 300_000])) }, config: { k: '\u0000' } });
    else body = Buffer.from([0xff, 0xfe, 0x00, 0x7b]);
    headers['content-type'] = r.chance(0.9) ? 'application/json' : r.pick(CONTENT_TYPES);
  }
  return { method: route.method, path, headers, body };
}

/** An ErrorBody whose message explains something (not just a status word). */
function clearMessage(text: string): boolean {
  try {
    const m = JSON.parse(text)?.error?.message;
    return typeof m === 'string' && m.length >= 20;
  } catch {
    return false;
  }
}

function rssMiB(pid: number): number {
  return Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024);
}

describe('security: OpenAPI-driven fuzzing of every route', function () {
  this.timeout(300_000);
  const dir = tempDir('amphora-fuzz-');
  let child: ChildProcess;
  let url: string;
  let api: Api;

  before(async () => {
    const b = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    child = spawn(process.execPath, [join(ROOT, 'dist', 'server.mjs'), '--data-dir', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
    url = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
      onListening(child.stdout!, (line) => resolve(JSON.parse(line).url));
    });
    api = new Api(url, JSON.parse(readFileSync(join(dir, 'server.json'), 'utf8')).apiKey);
  });
  after(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it(`answers ${REQUESTS} generated requests (seed ${SEED}) without a 5xx or a request over ${HANG_MS / 1000} s`, async () => {
    const digestBytes = Buffer.from('fuzz seed blob');
    const runRes = await api.post(`/api/v1/projects/${await api.entity()}/fuzz/runs`, { jobType: 'train' });
    assert.equal(runRes.status, 201);
    assert.equal((await api.logVersion('fuzz', 'data', 'dataset', { 'a.txt': digestBytes }, { aliases: ['best'], runId: runRes.body.id })).status, 201);
    const seeded: Seeded = { entity: await api.entity(), project: 'fuzz', name: 'data', runId: runRes.body.id, digest: createHash('sha256').update(digestBytes).digest('hex'), digestBytes };

    const doc = (await api.get('/api/v1/openapi.json')).body;
    const routes = Object.entries<any>(doc.paths)
      .flatMap(([template, ops]) => Object.entries<any>(ops).map(([method, op]) => ({ method: method.toUpperCase(), template, op })))
      .filter((r) => r.template !== '/api/v1/events'); // a stream that stays open by design: covered below
    assert.ok(routes.length >= 30, `the document lists ${routes.length} operations`);

    const r = rng(SEED);
    const plan = Array.from({ length: REQUESTS }, (_, i) => buildRequest(r, routes[i % routes.length], seeded, api.key));
    const rssBefore = rssMiB(child.pid!);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let slowest = 0;
    let next = 0;
    const started = Date.now();
    const worker = async () => {
      while (next < plan.length) {
        const req = plan[next++];
        const t0 = Date.now();
        try {
          const res = await fetch(url + req.path, { method: req.method, headers: req.headers, body: req.body as BodyInit | undefined, signal: AbortSignal.timeout(HANG_MS) });
          const text = await res.text();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status >= 500) failures.push(`${res.status} ${req.method} ${req.path.slice(0, 200)} body=${String(req.body ?? '').slice(0, 200)} → ${text.slice(0, 300)}`);
          else if (res.status >= 400 && !clearMessage(text)) failures.push(`${res.status} without a clear message: ${req.method} ${req.path.slice(0, 200)} → ${text.slice(0, 200)}`);
        } catch (e) {
          const name = (e as Error).name;
          // fetch itself refuses some hostile headers before sending: not the server's doing.
          if (name === 'TypeError' && /header|ByteString|Invalid/i.test(String((e as Error).message) + String((e as { cause?: Error }).cause?.message))) continue;
          failures.push(`${name === 'TimeoutError' ? `no answer within ${HANG_MS} ms` : `request failed (${(e as Error).message}; ${String((e as { cause?: Error }).cause?.message)})`}: ${req.method} ${req.path.slice(0, 200)}`);
        }
        slowest = Math.max(slowest, Date.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const seconds = (Date.now() - started) / 1000;

    // The event stream: it opens, and a hostile Last-Event-ID does not break it.
    const ac = new AbortController();
    const ev = await fetch(`${url}/api/v1/events`, { headers: { authorization: `Bearer ${api.key}`, 'last-event-id': '%00\ud800'.replace(/[^\x20-\x7e]/g, '?') }, signal: ac.signal });
    assert.equal(ev.status, 200);
    ac.abort();

    assert.equal((await api.get('/api/v1/health')).status, 200, 'the server is still up');
    const rssAfter = rssMiB(child.pid!);
    const fivexx = [...statuses].filter(([c]) => c >= 500).reduce((a, [, n]) => a + n, 0);
    console.log(
      `      ${plan.length} requests over ${routes.length} operations in ${seconds.toFixed(1)} s: ${fivexx} × 5xx, slowest ${slowest} ms; ` +
        `statuses ${[...statuses].sort(([a], [b]) => a - b).map(([c, n]) => `${c}×${n}`).join(' ')}; server RSS ${rssBefore} → ${rssAfter} MiB (${rssAfter - rssBefore >= 0 ? '+' : ''}${rssAfter - rssBefore})`,
    );
    assert.deepEqual(failures.slice(0, 15), [], `${failures.length} bad answers`);
  });
});
