/** Server-side hardening: private data dir, Host check, upload URLs, 401 body, temp clean-up, full disk. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, lstatSync, rmSync, statfsSync, writeFileSync, existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sha256, startTestServer, tempDir, type TestServer } from '../integration/server-helpers.js';

function get(url: string, path: string, headers: Record<string, string>, method = 'GET', body?: string): Promise<{ status: number; body: any }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every path under `dir` whose mode lets group or others in. */
function groupOrOtherAccessible(dir: string): string[] {
  const bad: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) continue;
      if (st.mode & 0o077) bad.push(`${p} ${(st.mode & 0o777).toString(8)}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return bad;
}

describe('security: server hardening', function () {
  this.timeout(120_000);

  describe('on a loopback server', () => {
    let ts: TestServer;
    const dir = tempDir('amphora-loopback-');
    before(async () => {
      ts = await startTestServer({ dataDir: dir });
    });
    after(async () => {
      await ts.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('does not reveal the data dir in the 401 body', async () => {
      for (const auth of [{}, { authorization: 'Bearer wrong-key' }] as Record<string, string>[]) {
        const r = await get(ts.server.url, '/api/v1/viewer', auth);
        assert.equal(r.status, 401);
        assert.equal(r.body.error.code, 'unauthorized');
        assert.ok(!r.body.error.message.includes(ts.dir), `401 message names the data dir: ${r.body.error.message}`);
        assert.match(r.body.error.message, /Authorization: Bearer/);
      }
    });

    it('refuses a Host header that is not a loopback name (DNS rebinding) with a clear 403', async () => {
      const port = new URL(ts.server.url).port;
      const key = { authorization: `Bearer ${ts.server.apiKey}` };
      for (const host of [`evil.example:${port}`, 'attacker.test', `127.0.0.1.nip.io:${port}`, `192.168.1.5:${port}`]) {
        for (const path of ['/api/v1/viewer', '/api/v1/health']) {
          const r = await get(ts.server.url, path, { ...key, host });
          assert.equal(r.status, 403, `${host} ${path}`);
          assert.equal(r.body.error.code, 'forbidden_host');
          assert.match(r.body.error.message, /loopback only/);
        }
      }
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost', `app.localhost:${port}`]) {
        assert.equal((await get(ts.server.url, '/api/v1/viewer', { ...key, host })).status, 200, host);
      }
    });

    it("hands out upload URLs relative to the client's own address, never built from the request's Host", async () => {
      const digest = sha256('not uploaded yet ' + Date.now());
      const r = await get(ts.server.url, '/api/v1/blobs/negotiate', { authorization: `Bearer ${ts.server.apiKey}`, host: 'localhost:1', 'content-type': 'application/json' }, 'POST', JSON.stringify({ blobs: [{ digest, size: 3 }] }));
      assert.equal(r.status, 200);
      assert.equal(r.body.missing[0].uploadUrl, `/api/v1/blobs/${digest}`);
    });

    it('answers extra host names it was told to (a reverse proxy on this machine), still no others', async () => {
      await ts.stop();
      ts = await startTestServer({ dataDir: dir, allowedHosts: ['Amphora.Internal'] });
      const port = new URL(ts.server.url).port;
      const key = { authorization: `Bearer ${ts.server.apiKey}` };
      assert.equal((await get(ts.server.url, '/api/v1/viewer', { ...key, host: `amphora.internal:${port}` })).status, 200);
      const evil = await get(ts.server.url, '/api/v1/viewer', { ...key, host: 'evil.example' });
      assert.equal(evil.status, 403);
      assert.match(evil.body.error.message, /AMPHORA_ALLOWED_HOSTS/);
    });

    it('bound to every interface: no Host check (a proxy or load balancer names it), still no Host in upload URLs', async () => {
      await ts.stop();
      ts = await startTestServer({ dataDir: dir, host: '0.0.0.0' });
      const port = new URL(ts.server.url).port;
      const key = { authorization: `Bearer ${ts.server.apiKey}` };
      assert.equal((await get(ts.server.url, '/api/v1/viewer', { ...key, host: `amphora.team.example:${port}` })).status, 200);
      const digest = sha256('relative ' + Date.now());
      const r = await get(ts.server.url, '/api/v1/blobs/negotiate', { ...key, host: 'evil.example', 'content-type': 'application/json' }, 'POST', JSON.stringify({ blobs: [{ digest, size: 3 }] }));
      assert.equal(r.body.missing[0].uploadUrl, `/api/v1/blobs/${digest}`);
    });
  });

  describe('on a data dir left by an older server: pre-created 0755, a crash\'s partial uploads, blob folder on a 1 MiB tmpfs', () => {
    const dir = tempDir('amphora-old-dir-');
    const blobs = join(dir, 'blobs');
    let ts: TestServer;
    let mounted = false;
    let previousUmask: number;
    before(async () => {
      previousUmask = process.umask(0o022); // a typical login shell started the old server
      chmodSync(dir, 0o755);
      writeFileSync(join(dir, 'left-by-hand.txt'), 'x', { mode: 0o666 });
      chmodSync(join(dir, 'left-by-hand.txt'), 0o666);
      mkdirSync(blobs);
      const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', blobs], { encoding: 'utf8' });
      mounted = m.status === 0;
      if (!mounted) console.log(`      (no tmpfs: mounting one needs root with CAP_SYS_ADMIN: ${m.stderr.trim()}; the full-disk case is skipped)`);
      mkdirSync(join(blobs, 'tmp', 'odd-folder'), { recursive: true });
      writeFileSync(join(blobs, 'tmp', `${'a'.repeat(16)}.999999.1`), randomBytes(4096));
      ts = await startTestServer({ dataDir: dir });
    });
    after(async () => {
      await ts?.stop();
      process.umask(previousUmask);
      if (mounted) spawnSync('umount', [blobs]);
      rmSync(dir, { recursive: true, force: true });
    });

    it('deletes partial uploads left in blobs/tmp when it starts', async () => {
      assert.deepEqual(readdirSync(join(blobs, 'tmp')), []);
      assert.equal((await ts.api.putBlob('after clean-up')).status, 201);
    });

    it('leaves the data dir 0700 and nothing under it readable or writable by group or others', async () => {
      assert.equal((await ts.api.logVersion('modes', 'data', 'dataset', { 'a.txt': 'private bytes', 'b.bin': randomBytes(100_000) })).status, 201);
      assert.equal(lstatSync(dir).mode & 0o777, 0o700);
      const bad = groupOrOtherAccessible(dir);
      assert.deepEqual(bad.slice(0, 10), [], `${bad.length} entries open to group/others`);
    });

    it('answers 507 saying the disk is full (streamed, small and batch uploads), stores nothing, keeps working', async function () {
      if (!mounted) this.skip();
      const api = ts.api;
      const filler = randomBytes(760 * 1024);
      assert.equal((await api.putBlob(filler)).status, 201);
      for (const data of [randomBytes(2 * 1024 * 1024), randomBytes(200 * 1024)]) {
        const r = await api.putBlob(data);
        assert.equal(r.status, 507, JSON.stringify(r.body));
        assert.equal(r.body.error.code, 'insufficient_storage');
        assert.match(r.body.error.message, /disk is full/);
        assert.equal(existsSync(join(blobs, 'sha256', sha256(data).slice(0, 2), sha256(data))), false);
      }
      const parts = [randomBytes(200 * 1024), randomBytes(200 * 1024)];
      const header = JSON.stringify({ blobs: parts.map((p) => ({ digest: sha256(p), size: p.length })) }) + '\n';
      const batch = await api.req('POST', '/api/v1/blobs/batch', Buffer.concat([Buffer.from(header), ...parts]), { 'content-type': 'application/octet-stream' });
      assert.equal(batch.status, 507, JSON.stringify(batch.body));
      assert.match(batch.body.error.message, /disk is full/);
      assert.deepEqual(readdirSync(join(blobs, 'tmp')), [], 'no partial upload left behind');
      assert.equal((await api.putBlob('still works')).status, 201);
    });
  });

  describe('the whole data dir (database included) on a 128 MiB tmpfs', () => {
    const mnt = tempDir('amphora-db-full-');
    const dir = join(mnt, 'data');
    let ts: TestServer | undefined;
    let mounted = false;
    before(async function () {
      const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=128m', 'tmpfs', mnt], { encoding: 'utf8' });
      mounted = m.status === 0;
      if (!mounted) {
        console.log(`      (no tmpfs: mounting one needs root with CAP_SYS_ADMIN: ${m.stderr.trim()}; skipped)`);
        return this.skip();
      }
      ts = await startTestServer({ dataDir: dir });
    });
    after(async () => {
      await ts?.stop();
      if (mounted) spawnSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    });

    it('a database write on a full disk answers 507 saying so, changes nothing, and works again once there is space', async () => {
      const api = ts!.api;
      const entity = await api.entity();
      const commit = () => api.post(`/api/v1/projects/${entity}/full/artifacts/meta/versions`, { type: 'dataset', manifest: {}, metadata: { blob: randomBytes(600_000).toString('base64') } });
      assert.equal((await api.logVersion('full', 'before', 'dataset', { 'a.txt': 'x' })).status, 201);
      const free = statfsSync(mnt);
      writeFileSync(join(mnt, 'filler'), Buffer.alloc(Number(free.bavail) * free.bsize - 64 * 1024));
      const r = await commit();
      assert.equal(r.status, 507, JSON.stringify(r.body).slice(0, 500));
      assert.equal(r.body.error.code, 'insufficient_storage');
      assert.match(r.body.error.message, /disk is full: its database could not write this change .*Nothing was changed\. Free space/);
      assert.equal((await api.get(`/api/v1/projects/${entity}/full/artifacts/meta/versions`)).status, 404, 'no half-made artifact');
      rmSync(join(mnt, 'filler'));
      const again = await commit();
      assert.equal(again.status, 201, JSON.stringify(again.body).slice(0, 300));
      assert.equal(again.body.version.version, 'v0', 'the failed write used up no version number');
    });
  });
});
