import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PgliteDatabase } from '../../src/server/store/pglite.js';
import { tempDir } from './server-helpers.js';

const INITDB = resolve('src/server/store/initdbMain.ts');

/** Every regular file and folder under `dir`, and `dir` itself. */
function tree(dir: string): string[] {
  return [dir, ...readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile() || e.isDirectory()).map((e) => join(e.parentPath, e.name))];
}

describe('server: embedded database durability', function () {
  this.timeout(180_000);
  let dir: string;
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('runs PGlite with fsync on (its default -F turns it off) and each commit reaches the disk with an fsync', async () => {
    dir = tempDir('amphora-durable-');
    const db = await PgliteDatabase.open(join(dir, 'db'));
    try {
      const [row] = await db.query<{ fsync: string }>('show fsync');
      assert.equal(row.fsync, 'on');
      const [method] = await db.query<{ wal_sync_method: string }>('show wal_sync_method');
      assert.equal(method.wal_sync_method, 'fsync', 'fdatasync is a no-op under Emscripten: the WAL must use fsync');
      await db.exec('create table durability_probe (id int primary key)');
      const before = db.fs.syncs;
      await db.transaction((tx) => tx.query('insert into durability_probe values (1)'));
      assert.ok(db.fs.syncs > before, 'the commit was acknowledged only after an fsync of the WAL');
    } finally {
      await db.close();
    }
  });

  it('the first start is durable too: the initdb child fsyncs every file and folder of the new cluster (PGlite creates it with fsync off)', function () {
    if (spawnSync('strace', ['-V']).status !== 0) throw new Error('strace is needed (scripts/setup.sh installs it)');
    const base = tempDir('amphora-initdb-sync-');
    try {
      const cluster = join(base, 'db');
      const log = join(base, 'strace.txt');
      // -y names each fd's path; the child is what the server runs on a fresh data dir (createCluster.ts).
      const r = spawnSync('strace', ['-f', '-qq', '-y', '-e', 'trace=fsync,fdatasync', '-o', log, process.execPath, '--import', 'tsx', INITDB, cluster], { encoding: 'utf8', timeout: 170_000 });
      assert.equal(r.status, 0, r.stderr.slice(-2000));
      const synced = new Set<string>();
      for (const m of readFileSync(log, 'utf8').matchAll(/\b(?:fsync|fdatasync)\(\d+<([^>]+)>\) = 0/g)) synced.add(m[1]);
      const unsynced = tree(cluster).filter((p) => !synced.has(p));
      assert.deepEqual(unsynced, [], `${unsynced.length} of the cluster's files and folders were never fsynced`);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

