import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { PgliteDatabase } from '../../src/server/store/pglite.js';
import { tempDir } from './server-helpers.js';

describe('server: embedded database memory settings', function () {
  this.timeout(180_000);
  let dir: string;
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs PGlite with 16 MB of shared buffers (128 MB by default, all resident), reopening the same cluster too', async () => {
    dir = tempDir('amphora-mem-');
    for (const start of ['fresh cluster', 'existing cluster']) {
      const db = await PgliteDatabase.open(join(dir, 'db'));
      try {
        const [row] = await db.query<{ shared_buffers: string }>('show shared_buffers');
        assert.equal(row.shared_buffers, '16MB', start);
        // Still a working database with the schema in place.
        const tables = await db.query<{ n: number }>("select count(*)::int as n from pg_tables where schemaname = 'public'");
        assert.ok(tables[0].n > 0, `${start}: migrations ran`);
      } finally {
        await db.close();
      }
    }
  });
});
