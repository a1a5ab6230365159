import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { AmphoraHttp } from '../../src/client/http.js';
import { resolveConnection, whileCheckingHealth } from '../../src/client/connection.js';
import { Client } from '../../src/client/client.js';
import { AmphoraError } from '../../src/core/errors.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A tiny stand-in HTTP endpoint that answers what each test tells it to (no Amphora logic). */
describe('client: HTTP error mapping and connection resolution', () => {
  let server: Server;
  let url: string;
  let answer: (path: string) => { status: number; body: string; type?: string };
  const seen: { method?: string; url?: string; auth?: string }[] = [];
  before(async () => {
    server = createServer((req, res) => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization });
      const a = answer(req.url ?? '');
      res.writeHead(a.status, { 'content-type': a.type ?? 'application/json' });
      res.end(a.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('sends the bearer key and maps an ErrorBody to AmphoraError with the same code and message', async () => {
    answer = () => ({ status: 404, body: JSON.stringify({ error: { code: 'not_found', message: 'There is no artifact "x"; check the name.' } }) });
    const http = new AmphoraHttp({ baseUrl: url, apiKey: 'k1' });
    await assert.rejects(http.resolve('e/p/x:latest'), (e: unknown) => e instanceof AmphoraError && e.code === 'not_found' && e.message === 'There is no artifact "x"; check the name.');
    assert.equal(seen.at(-1)?.auth, 'Bearer k1');
    assert.equal(seen.at(-1)?.url, '/api/v1/resolve?ref=e%2Fp%2Fx%3Alatest');
    await http.close();
  });

  it('maps a non-JSON failure by status and rejects answers that break the contract', async () => {
    const http = new AmphoraHttp({ baseUrl: url, apiKey: 'k' });
    answer = () => ({ status: 502, body: 'Bad gateway', type: 'text/plain' });
    await assert.rejects(http.viewer(), (e: unknown) => e instanceof AmphoraError && e.code === 'internal' && /HTTP 502/.test(e.message));
    answer = () => ({ status: 200, body: JSON.stringify({ entity: 42 }) });
    await assert.rejects(http.viewer(), (e: unknown) => e instanceof AmphoraError && /API contract/.test(e.message));
    await http.close();
  });

  it('connection refused becomes server_unreachable naming the URL and `amphora serve`', async () => {
    const http = new AmphoraHttp({ baseUrl: 'http://127.0.0.1:9', apiKey: 'k' });
    await assert.rejects(http.viewer(), (e: unknown) => e instanceof AmphoraError && e.code === 'server_unreachable' && /127\.0\.0\.1:9/.test(e.message) && /amphora serve/.test(e.message) && /AMPHORA_BASE_URL/.test(e.message));
    await http.close();
  });

  it('resolveConnection: AMPHORA_BASE_URL without a scheme is a clear error with an example', async () => {
    for (const [bad, example] of [['localhost:7411', 'http://localhost:7411'], ['myhost', 'http://myhost:7411']]) {
      await assert.rejects(
        resolveConnection({ env: { AMPHORA_BASE_URL: bad, AMPHORA_API_KEY: 'k' } }),
        (e: unknown) => e instanceof AmphoraError && e.code === 'invalid_request' && e.message.includes('must start with http:// or https://') && e.message.includes(example),
      );
    }
  });

  it('resolveConnection: env wins; else the discovery file; a stale discovery file is unreachable', async () => {
    answer = () => ({ status: 200, body: JSON.stringify({ ok: true, version: '0', mode: 'embedded' }) });
    assert.deepEqual(await resolveConnection({ env: { AMPHORA_BASE_URL: url + '/', AMPHORA_API_KEY: 'envkey' } }), { baseUrl: url, apiKey: 'envkey' });
    const dir = await mkdtemp(path.join(tmpdir(), 'amphora-conn-'));
    try {
      const disc = { url, apiKey: 'filekey', pid: 1, dataDir: dir, version: '0', startedAt: new Date().toISOString() };
      await writeFile(path.join(dir, 'server.json'), JSON.stringify(disc));
      assert.deepEqual(await resolveConnection({ env: { AMPHORA_DATA_DIR: dir } }), { baseUrl: url, apiKey: 'filekey' });
      await writeFile(path.join(dir, 'server.json'), JSON.stringify({ ...disc, url: 'http://127.0.0.1:9' }));
      await assert.rejects(resolveConnection({ env: { AMPHORA_DATA_DIR: dir } }), (e: unknown) => e instanceof AmphoraError && e.code === 'server_unreachable' && /amphora serve/.test(e.message));
      await assert.rejects(resolveConnection({ env: { AMPHORA_DATA_DIR: path.join(dir, 'none') } }), (e: unknown) => e instanceof AmphoraError && e.code === 'server_unreachable' && /discovery file/.test(e.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('Client.connect asks a named server for the viewer alongside the health check (health decides reachability), a discovered one only after it', async () => {
    const viewer = { entity: 'ann', defaultProject: 'p', roles: [] };
    answer = (p) => (p.startsWith('/api/v1/health') ? { status: 200, body: JSON.stringify({ ok: true, version: '0', mode: 'embedded' }) } : { status: 200, body: JSON.stringify(viewer) });
    seen.length = 0;
    const client = await Client.connect({ baseUrl: url, apiKey: 'k', env: {} });
    assert.equal(client.entity, 'ann');
    assert.deepEqual(seen.map((s) => s.url).sort(), ['/api/v1/health', '/api/v1/viewer']);
    await client.close();
    // Not an Amphora server: the health check's error, not the viewer's 404.
    answer = () => ({ status: 404, body: 'Not found', type: 'text/html' });
    await assert.rejects(Client.connect({ baseUrl: url, apiKey: 'k', env: {} }), (e: unknown) => e instanceof AmphoraError && e.code === 'server_unreachable' && /health check answered HTTP 404/.test(e.message));
    // A discovered server is checked before the key is sent: a stale discovery file whose port
    // another program now answers never hands that program the key.
    const dataDir = await mkdtemp(path.join(tmpdir(), 'amphora-conn-'));
    try {
      await writeFile(path.join(dataDir, 'server.json'), JSON.stringify({ url, apiKey: 'discovered-key', pid: 1, dataDir, version: '0', startedAt: new Date().toISOString() }));
      seen.length = 0;
      await assert.rejects(Client.connect({ env: { AMPHORA_DATA_DIR: dataDir } }), (e: unknown) => e instanceof AmphoraError && e.code === 'server_unreachable');
      assert.deepEqual(seen.map((s) => s.url), ['/api/v1/health']);
      assert.ok(seen.every((s) => s.auth === undefined), 'no key was sent');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
    // Healthy, but the key is refused: the viewer's error.
    answer = (p) => (p.startsWith('/api/v1/health') ? { status: 200, body: JSON.stringify({ ok: true, version: '0', mode: 'embedded' }) } : { status: 401, body: JSON.stringify({ error: { code: 'unauthorized', message: 'Wrong API key.' } }) });
    await assert.rejects(Client.connect({ baseUrl: url, apiKey: 'bad', env: {} }), (e: unknown) => e instanceof AmphoraError && e.code === 'unauthorized');
  });

  it('whileCheckingHealth: a server that accepts and never answers fails in the health check time and cancels the first request', async function () {
    this.timeout(20_000);
    const sockets = new Set<import('node:net').Socket>();
    const hung = (await import('node:net')).createServer((s) => void sockets.add(s));
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const hungUrl = `http://127.0.0.1:${(hung.address() as { port: number }).port}`;
    let aborted = false;
    const t0 = Date.now();
    try {
      await assert.rejects(
        whileCheckingHealth(hungUrl, (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => ((aborted = true), reject(new Error('aborted')))))),
        (e: unknown) => e instanceof AmphoraError && e.code === 'server_unreachable' && /UND_ERR_HEADERS_TIMEOUT/.test(e.message),
      );
      assert.ok(Date.now() - t0 < 10_000, 'the health check bounds the wait');
      assert.equal(aborted, true, 'the first request is cancelled, so nothing holds the process open');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => hung.close(() => r()));
    }
  });
});
