/**
 * Logging unchanged content again answers with the existing version without checking its blobs
 * one by one (they were checked and flushed when that version was committed) — unless that
 * version is deleted before the new commit locks the collection: then they are checked after all.
 * Real PGlite (PostgreSQL in the team suite) and a real blob folder; the store below only counts calls.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { isAmphoraError } from '../../src/core/errors.js';
import { LocalBlobStore } from '../../src/server/blobs/localBlobs.js';
import { EventBus } from '../../src/server/events.js';
import { ArtifactService } from '../../src/server/services/artifacts.js';
import type { Database } from '../../src/server/store/database.js';
import { PgliteDatabase } from '../../src/server/store/pglite.js';
import { PostgresDatabase } from '../../src/server/store/postgres.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { sha256, TEAM_DB, tempDir } from './server-helpers.js';

class CountingBlobStore extends LocalBlobStore {
  statted = 0;
  flushed = 0;
  override async statMany(digests: string[]) {
    this.statted += digests.length;
    return super.statMany(digests);
  }
  override async flush(digests: string[] = []) {
    this.flushed += digests.length;
    return super.flush(digests);
  }
}

describe('server: re-logging unchanged content', function () {
  this.timeout(60_000);
  let dir: string;
  let db: Database;
  let pg: TestDatabase | undefined;
  let blobs: CountingBlobStore;
  let service: ArtifactService;
  const files = ['a', 'b', 'c'].map((n) => Buffer.from(`file ${n}\n`));
  const manifest = Object.fromEntries(files.map((b, i) => [`f${i}.txt`, { digest: sha256(b), size: b.length }]));

  before(async () => {
    dir = tempDir();
    if (TEAM_DB) {
      pg = await createTestDatabase();
      db = await PostgresDatabase.open(pg.url);
    } else db = await PgliteDatabase.open(join(dir, 'db'));
    blobs = new CountingBlobStore(join(dir, 'blobs'));
    await blobs.init();
    service = new ArtifactService(db, blobs, new EventBus());
    for (const b of files) await blobs.putBytes(sha256(b), b);
  });

  after(async () => {
    await db?.close();
    await pg?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers with the existing version without statting or flushing its blobs again', async () => {
    const first = await service.commit('e', 'p', 'same', { type: 'dataset', manifest });
    assert.equal(first.created, true);
    assert.equal(blobs.statted, 3, 'a new version checks each blob');
    blobs.statted = blobs.flushed = 0;
    const again = await service.commit('e', 'p', 'same', { type: 'dataset', manifest, aliases: ['best'] });
    assert.equal(again.created, false);
    assert.equal(again.version.version, 'v0');
    assert.deepEqual(again.version.aliases, ['latest', 'best'], 'aliases still move on a re-log');
    assert.equal(blobs.statted, 0);
    assert.equal(blobs.flushed, 0);
  });

  it('relog: content named by its digest gets what a commit would give it, without its blobs checked', async () => {
    const first = await service.commit('e', 'p', 'named', { type: 'dataset', manifest, description: 'first' });
    blobs.statted = blobs.flushed = 0;
    const again = await service.relog('e', 'p', 'named', { type: 'dataset', digest: first.version.digest, aliases: ['best'], tags: ['nightly'] });
    assert.equal(again.created, false);
    assert.equal(again.version.version, 'v0');
    assert.deepEqual(again.version.aliases, ['latest', 'best']);
    assert.deepEqual(again.version.tags, ['nightly'], 'tags are added as on a commit of equal content');
    assert.equal(again.version.description, 'first', 'no manifest, no other field of the version changes');
    assert.equal(blobs.statted + blobs.flushed, 0);
    // An older version's content named again: that version, which latest moves back to (as a commit would).
    const v1 = await service.commit('e', 'p', 'named', { type: 'dataset', manifest: { 'only.txt': manifest['f0.txt'] } });
    assert.equal(v1.version.version, 'v1');
    const back = await service.relog('e', 'p', 'named', { type: 'dataset', digest: first.version.digest });
    assert.equal(back.version.version, 'v0');
    assert.ok(back.version.aliases.includes('latest'));
  });

  it('relog: no version with that digest is not_found and leaves nothing behind; the type still must match', async () => {
    const unknown = sha256(Buffer.from('never logged'));
    await assert.rejects(service.relog('e', 'fresh-project', 'never', { type: 'dataset', digest: unknown, aliases: ['x'] }), (e: unknown) => {
      assert.ok(isAmphoraError(e) && e.code === 'not_found', String(e));
      assert.match((e as Error).message, /commit the manifest instead/);
      return true;
    });
    const made = await db.query(`SELECT 1 FROM projects WHERE name = 'fresh-project'`);
    assert.equal(made.length, 0, 'the transaction rolled back: no project or collection was created');
    const first = await service.commit('e', 'p', 'typed', { type: 'dataset', manifest });
    await assert.rejects(service.relog('e', 'p', 'typed', { type: 'model', digest: first.version.digest }), (e: unknown) => isAmphoraError(e) && e.code === 'type_mismatch');
  });

  it('still refuses missing blobs when the equal version is deleted between the check and the transaction', async () => {
    await service.commit('e', 'p', 'raced', { type: 'dataset', manifest });
    // The blobs go too (as a GC after the delete would take them): the commit must notice.
    const gone = files[0];
    const realTransaction = db.transaction.bind(db);
    db.transaction = async (fn) => {
      db.transaction = realTransaction;
      await db.query(`UPDATE versions SET state = 'deleted' WHERE collection_id = (SELECT id FROM collections WHERE name = 'raced')`);
      await blobs.remove(sha256(gone));
      return realTransaction(fn);
    };
    blobs.statted = 0;
    await assert.rejects(service.commit('e', 'p', 'raced', { type: 'dataset', manifest }), (e: unknown) => {
      assert.ok(isAmphoraError(e) && e.code === 'missing_blobs', String(e));
      assert.match((e as Error).message, new RegExp(sha256(gone).slice(0, 12)));
      return true;
    });
    assert.equal(blobs.statted, 3, 'the blobs were checked inside the transaction');
    await blobs.putBytes(sha256(gone), gone);
    const logged = await service.commit('e', 'p', 'raced', { type: 'dataset', manifest });
    assert.equal(logged.created, true, 'with its blobs back, the content is logged as a new version');
  });
});
