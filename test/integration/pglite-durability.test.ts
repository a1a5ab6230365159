import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { PgliteDatabase } from '../../src/server/store/pglite.js';
import { tempDir } from './server-helpers.js';

describe('server: embedded database durability', function () {
  this.timeout(180_000);
  let dir: string;
  after(() => rmSync(dir, { recursive: true, force: true }));

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
});
