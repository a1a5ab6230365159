/**
 * Small blobs in packs (S3 blob store): the store itself against a real s3rver and a real PGlite
 * database. Store requests are counted with an AWS SDK middleware on the store's own client.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3BlobStore } from '../../src/server/blobs/s3Blobs.js';
import { collectGarbage } from '../../src/server/gc.js';
import { PgliteDatabase } from '../../src/server/store/pglite.js';
import { startS3rver, type S3rverHandle } from '../support/s3rver.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('S3 blob store: small blobs in packs (s3rver + PGlite)', function () {
  this.timeout(120_000);
  let s3: S3rverHandle;
  let restoreEnv: () => void;
  let raw: S3Client;
  let base: string;
  let db: PgliteDatabase;
  let n = 0;
  const stores: S3BlobStore[] = [];

  before(async () => {
    s3 = await startS3rver('amphora-packs');
    restoreEnv = s3.applyEnv();
    raw = new S3Client({ forcePathStyle: true });
    base = mkdtempSync(path.join(tmpdir(), 'amphora-packs-'));
    db = await PgliteDatabase.open(path.join(base, 'db'));
  });
  after(async () => {
    for (const s of stores) s.close();
    await db?.close();
    raw?.destroy();
    restoreEnv?.();
    await s3?.stop();
    rmSync(base, { recursive: true, force: true });
  });
  beforeEach(async () => {
    // Each test on empty tables (GC looks at every row).
    await db.query('DELETE FROM blobs');
    await db.query('DELETE FROM blob_packs');
    await db.query('DELETE FROM run_files');
  });

  /** A store on its own prefix, and the list of store commands it sent. */
  async function store(): Promise<{ store: S3BlobStore; prefix: string; sent: string[] }> {
    const prefix = `t${++n}`;
    const st = new S3BlobStore({ location: `s3://${s3.bucket}/${prefix}`, tmpDir: path.join(base, `spill-${n}`) });
    stores.push(st);
    await st.init();
    st.attach(db);
    const sent: string[] = [];
    st.client.middlewareStack.add(
      (next, context) => (args) => {
        sent.push(context.commandName ?? '?');
        return next(args);
      },
      { step: 'initialize' },
    );
    return { store: st, prefix, sent };
  }

  async function keys(prefix: string): Promise<string[]> {
    const out = await raw.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix + '/' }));
    return (out.Contents ?? []).map((o) => o.Key!).sort();
  }

  async function collect(it: AsyncIterable<Buffer>): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for await (const b of it) out.push(b);
    return out;
  }

  const blobs = (count: number, size = 4096) => Array.from({ length: count }, () => randomBytes(size)).map((bytes) => ({ digest: sha(bytes), bytes }));

  it('a batch of 500 small blobs is one PUT of one pack; reading them back in any order costs a few ranged GETs', async () => {
    const { store: st, prefix, sent } = await store();
    const items = blobs(500);
    const out = await st.putPack(items);
    assert.equal(out.stored.length, 500);
    assert.ok(out.stored.every((s) => s.created));
    assert.deepEqual(out.failed, []);
    assert.equal(sent.filter((c) => c === 'PutObjectCommand').length, 1, 'one store request for the whole batch');
    const stored = await keys(prefix);
    assert.equal(stored.filter((k) => k.startsWith(`${prefix}/packs/`)).length, 1);
    assert.equal(stored.filter((k) => k.includes('/sha256/')).length, 0, 'no object per blob');
    // Present (the record), with its size.
    const stat = await st.statMany(items.map((i) => i.digest));
    assert.equal(stat.size, 500);

    sent.length = 0;
    const shuffled = [...items].sort(() => Math.random() - 0.5);
    const got = await collect(st.readMany(shuffled.map((i) => ({ digest: i.digest, size: i.bytes.length }))));
    assert.equal(got.length, 500);
    got.forEach((b, i) => assert.ok(b.equals(shuffled[i].bytes), `blob ${i} in the order asked`));
    const gets = sent.filter((c) => c === 'GetObjectCommand').length;
    assert.ok(gets <= 2, `${gets} GETs for 500 blobs of one 2 MiB pack`);

    // One blob alone, whole and a range of it (the single-blob route).
    const one = items[123];
    assert.ok((await st.readBytes(one.digest)).equals(one.bytes));
    const part = await collect(st.read(one.digest, { start: 100, end: 199 }));
    assert.ok(Buffer.concat(part).equals(one.bytes.subarray(100, 200)));
    assert.ok(Buffer.concat(await collect(st.read(one.digest))).equals(one.bytes));
    // A packed blob is never redirected to a presigned URL (it is a range of its pack).
    assert.equal(await st.downloadUrl(one.digest, one.bytes.length), undefined);
  });

  it('wrong bytes are listed as failed and stored nowhere; the rest of the pack is kept', async () => {
    const { store: st } = await store();
    const [good] = blobs(1);
    const claimed = sha(Buffer.from('the real bytes'));
    const out = await st.putPack([good, { digest: claimed, bytes: Buffer.from('other bytes') }]);
    assert.deepEqual(out.stored.map((s) => s.digest), [good.digest]);
    assert.deepEqual(out.failed.map((f) => f.digest), [claimed]);
    assert.equal((await st.statMany([claimed])).size, 0);
  });

  it('a blob already recorded keeps its place; a second pack of it reports created: false', async () => {
    const { store: st } = await store();
    const items = blobs(3);
    await st.putPack(items);
    const again = await st.putPack([items[0]]);
    assert.deepEqual(again.stored, [{ digest: items[0].digest, size: 4096, created: false }]);
    const [row] = await db.query<{ n: string }>('SELECT count(DISTINCT pack_key) AS n FROM blobs WHERE digest = ANY($1::text[])', [items.map((i) => i.digest)]);
    assert.equal(Number(row.n), 1, 'all three still point into the first pack');
    assert.ok((await st.readBytes(items[0].digest)).equals(items[0].bytes));
  });

  it('bytes in a pack that no longer hash to their digest are an error, never served', async () => {
    const { store: st } = await store();
    const items = blobs(2);
    await st.putPack(items);
    const [{ pack_key }] = await db.query<{ pack_key: string }>('SELECT pack_key FROM blobs WHERE digest = $1', [items[0].digest]);
    // The bucket's copy is damaged behind the server's back.
    await raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key: pack_key, Body: randomBytes(8192) }));
    await assert.rejects(collect(st.readMany(items.map((i) => ({ digest: i.digest, size: 4096 })))), /do not hash to its digest; the bucket's copy is damaged/);
  });

  it('GC: a pack whose blobs are all garbage is deleted; a mostly-garbage one is rewritten and its survivors still read back', async () => {
    const { store: st, prefix } = await store();
    const dead = blobs(10);
    const mixed = blobs(10);
    await st.putPack(dead);
    await st.putPack(mixed);
    const keep = mixed.slice(0, 3);
    // Referenced: run file rows are what GC keeps here (it reads them like version manifests).
    for (const k of keep) await db.query('INSERT INTO run_files (project_id, run_id, path, digest, size) VALUES (0, $1, $2, $3, 4096)', [`run${n}`, k.digest.slice(0, 12), k.digest]);
    const packsBefore = (await keys(prefix)).filter((k) => k.includes('/packs/'));
    assert.equal(packsBefore.length, 2);
    const res = await collectGarbage(db, st, { graceSeconds: 0 });
    assert.equal(res.deletedBlobs, 17);
    assert.deepEqual(res.packs, { deleted: 1, rewritten: 1, bytesReclaimed: 10 * 4096 + 7 * 4096 });
    const packsAfter = (await keys(prefix)).filter((k) => k.includes('/packs/'));
    assert.equal(packsAfter.length, 1, 'one new pack holds the survivors');
    assert.ok(!packsBefore.includes(packsAfter[0]));
    const got = await collect(st.readMany(keep.map((k) => ({ digest: k.digest, size: 4096 }))));
    got.forEach((b, i) => assert.ok(b.equals(keep[i].bytes)));
    assert.equal((await st.statMany(dead.map((d) => d.digest))).size, 0);
  });

  it('GC deletes a pack object that was never recorded (its replica died before the INSERT), and only once it is old', async () => {
    const { store: st, prefix } = await store();
    const Key = `${prefix}/packs/${randomBytes(16).toString('hex')}`;
    await raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: randomBytes(4096) }));
    const recorded = blobs(2);
    await st.putPack(recorded);
    assert.equal(await st.removeStaleTemp(3600_000, db), 0, 'young: kept (an upload may be about to record it)');
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await st.removeStaleTemp(500, db), 1);
    const left = (await keys(prefix)).filter((k) => k.includes('/packs/'));
    assert.equal(left.length, 1);
    assert.notEqual(left[0], Key);
    assert.ok((await st.readBytes(recorded[1].digest)).equals(recorded[1].bytes));
  });
});
