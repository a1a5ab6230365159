import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { onListening } from '../support/serverLines.js';
import { Api, sha256, tempDir, EMBEDDED_ONLY, TEAM_DB } from './server-helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');

function startProcess(dataDir: string): Promise<{ child: ChildProcess; url: string; pid: number; stderr: () => string }> {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'server.mjs'), '--data-dir', dataDir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 60_000);
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
    onListening(child.stdout!, (line) => {
      clearTimeout(timer);
      const msg = JSON.parse(line) as { event: string; url: string; pid: number };
      assert.equal(msg.event, 'listening');
      resolve({ child, url: msg.url, pid: msg.pid, stderr: () => err });
    });
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('server: SIGKILL in the middle of uploads, then restart', function () {
  if (TEAM_DB) return void it.skip(EMBEDDED_ONLY);
  this.timeout(180_000);
  const dir = tempDir('amphora-crash-');
  const children: ChildProcess[] = [];

  before(() => {
    const b = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
  });
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged version byte-identical, shows no pending version, accepts new logs', async () => {
    const first = await startProcess(dir);
    children.push(first.child);
    const key = JSON.parse(readFileSync(join(dir, 'server.json'), 'utf8')).apiKey as string;
    const api = new Api(first.url, key);
    const e = await api.entity();

    // A distributed version left pending by the crash must stay invisible.
    await api.putBlob('pending part');
    const pend = await api.post(`/api/v1/projects/${e}/crash/artifacts/dist/pending/g1`, { type: 'dataset', manifest: { 'p.txt': { digest: sha256('pending part'), size: 12 } } });
    assert.equal(pend.status, 200);

    const acked = new Map<string, Record<string, string>>(); // version id -> files
    let stop = false;
    let lastError = '';
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const files: Record<string, string> = { 'data.bin': `writer ${w} item ${i} `.repeat(2000), [`w${w}/n${i}.txt`]: `${w}:${i}` };
        try {
          const r = await api.logVersion('crash', `art-${w % 3}`, 'dataset', files);
          if (r.status === 201) acked.set(r.body.version.id, files);
          else lastError = JSON.stringify(r.body);
        } catch {
          return; // connection died with the server
        }
      }
    };
    const writers = Array.from({ length: 6 }, (_, w) => writer(w));
    const deadline = Date.now() + 60_000;
    while (acked.size < 12) {
      assert.ok(Date.now() < deadline, `writers got only ${acked.size} acknowledgements in 60 s; last error: ${lastError}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    first.child.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    await exited(first.child);
    assert.ok(existsSync(join(dir, 'server.lock')), 'the killed server left its lock behind');

    const second = await startProcess(dir);
    children.push(second.child);
    assert.notEqual(second.pid, first.pid);
    const api2 = new Api(second.url, key);
    for (const [id, files] of acked) {
      const v = Object.values(
        (await Promise.all([0, 1, 2].map((k) => api2.get(`/api/v1/projects/${e}/crash/artifacts/art-${k}/versions?limit=1000`)))).flatMap((r) => r.body.items),
      ).find((x: any) => x.id === id) as any;
      assert.ok(v, `acknowledged version ${id} survived`);
      const m = (await api2.get(`/api/v1/projects/${e}/crash/artifacts/${v.name}/versions/${v.version}/manifest`)).body;
      for (const [p, content] of Object.entries(files)) {
        assert.equal(m.entries[p].digest, sha256(content));
        const blob = await fetch(`${second.url}/api/v1/blobs/${m.entries[p].digest}`, { headers: { authorization: `Bearer ${key}` } });
        assert.equal(blob.status, 200);
        assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), sha256(content), `bytes of ${p} in ${v.name}:${v.version}`);
      }
    }
    for (let k = 0; k < 3; k++) {
      const items = (await api2.get(`/api/v1/projects/${e}/crash/artifacts/art-${k}/versions?limit=1000`)).body.items as { index: number; state: string }[];
      assert.ok(items.every((v) => v.state === 'committed'));
      const idx = items.map((v) => v.index).sort((a, b) => a - b);
      assert.deepEqual(idx, idx.map((_, i) => i), 'version numbers stay contiguous');
    }
    assert.deepEqual((await api2.get(`/api/v1/projects/${e}/crash/artifacts/dist/versions`)).body.items, []);
    const fresh = await api2.logVersion('crash', 'after-restart', 'dataset', { 'new.txt': 'accepted' });
    assert.equal(fresh.status, 201);
    second.child.kill('SIGTERM');
    assert.equal(await exited(second.child), 0);
    assert.equal(existsSync(join(dir, 'server.json')), false, 'clean shutdown removes the discovery file');
    assert.equal(existsSync(join(dir, 'server.lock')), false);
  });
});
