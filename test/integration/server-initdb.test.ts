import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { onListening } from '../support/serverLines.js';
import { isAmphoraError } from '../../src/core/errors.js';
import { startServer } from '../../src/server/index.js';
import { INITDB_FAIL_ENV } from '../../src/server/store/createCluster.js';
import { Api, tempDir, EMBEDDED_ONLY, TEAM_DB } from './server-helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** The data dir holds no cluster and no temp folder of a failed create. */
function assertNoCluster(dir: string): void {
  assert.equal(existsSync(join(dir, 'db')), false, 'no half-created db folder');
  assert.deepEqual(readdirSync(dir).filter((e) => e.startsWith('.initdb-')), [], 'no temp cluster folder left');
}

async function commitAndRead(api: Api): Promise<void> {
  const put = await api.logVersion('initdb', 'ds', 'dataset', { 'a.txt': 'hello' });
  assert.equal(put.status, 201, JSON.stringify(put.body));
  const entity = await api.entity();
  const list = await api.get(`/api/v1/projects/${entity}/initdb/artifacts/ds/versions`);
  assert.equal(list.body.items.length, 1);
}

describe('server: a fresh data dir gets its cluster from a child process', function () {
  if (TEAM_DB) return void it.skip(EMBEDDED_ONLY);
  this.timeout(180_000);
  const dirs: string[] = [];
  const fresh = () => {
    const d = tempDir('amphora-initdb-');
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('from source: a failing child gives a clear error, leaves the dir reusable; the next start serves commits', async () => {
    const dir = fresh();
    process.env[INITDB_FAIL_ENV] = '1'; // read only by the child, so this proves initdb ran there
    try {
      await assert.rejects(startServer({ dataDir: dir, port: 0, quiet: true }), (e: unknown) => {
        assert.ok(isAmphoraError(e));
        assert.match(e.message, /Creating the database \(initdb in a child process/);
        assert.match(e.message, /simulated initdb failure/, 'carries the child stderr tail');
        assert.match(e.message, /start the server again/);
        return true;
      });
    } finally {
      delete process.env[INITDB_FAIL_ENV];
    }
    assertNoCluster(dir);
    const server = await startServer({ dataDir: dir, port: 0, quiet: true }); // lock was released
    try {
      assert.ok(existsSync(join(dir, 'db', 'PG_VERSION')));
      await commitAndRead(new Api(server.url, server.apiKey));
    } finally {
      await server.close();
    }
  });

  it('bundled dist/server.mjs: same, with dist/initdb.mjs as the child', async () => {
    const b = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    const dir = fresh();
    const server = join(ROOT, 'dist', 'server.mjs');
    const failed = spawnSync(process.execPath, [server, '--data-dir', dir, '--port', '0'], {
      encoding: 'utf8',
      env: { ...process.env, [INITDB_FAIL_ENV]: '1' },
      timeout: 60_000,
    });
    assert.equal(failed.status, 1, failed.stderr);
    assert.match(failed.stderr, /initdb in a child process: .*initdb\.mjs/);
    assert.match(failed.stderr, /simulated initdb failure/);
    assertNoCluster(dir);

    const child = spawn(process.execPath, [server, '--data-dir', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 60_000);
        child.on('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
        onListening(child.stdout, (l) => {
          clearTimeout(timer);
          resolve(l);
        });
      });
      const { url } = JSON.parse(line) as { url: string };
      const { apiKey } = JSON.parse(readFileSync(join(dir, 'server.json'), 'utf8')) as { apiKey: string };
      await commitAndRead(new Api(url, apiKey));
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    }
  });
});
