import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LocalBlobStore } from '../../src/server/blobs/localBlobs.js';
import { checkIndex, entryDigest, entryOffset, entrySize, ENTRY_BYTES, readTrailer, TRAILER_BYTES, writePackSync } from '../../src/core/node/packFormat.js';
import { PackTable } from '../../src/core/node/packTable.js';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const blob = (s: string) => ({ digest: sha(s), bytes: Buffer.from(s) });

async function drain(r: Readable | AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out);
}

async function listed(store: LocalBlobStore): Promise<string[]> {
  const out: string[] = [];
  for await (const b of store.list()) out.push(b.digest);
  return out.sort();
}

describe('local packs (small blobs of batch uploads in one file)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'amphora-packs-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const packFiles = () => readdirSync(join(dir, 'packs')).filter((n) => n.endsWith('.pack'));

  it('format: entries round-trip; a changed index byte, a short file or a foreign file is refused with the reason', () => {
    const blobs = new Map([blob('alpha'), blob(''), blob('gamma, a little longer')].map((b) => [b.digest, b.bytes]));
    const { index, length } = writePackSync(join(dir, 'one.pack'), blobs);
    const bytes = readFileSync(join(dir, 'one.pack'));
    assert.equal(bytes.length, length);
    assert.deepEqual([0, 1, 2].map((i) => [entryDigest(index, i), entryOffset(index, i), entrySize(index, i)]), [...blobs.keys()].map((d, i) => [d, [0, 5, 5][i], [5, 0, 22][i]]));
    assert.deepEqual(bytes.subarray(5, 27).toString(), 'gamma, a little longer');
    const t = readTrailer(bytes.subarray(bytes.length - TRAILER_BYTES), bytes.length);
    assert.ok(typeof t !== 'string');
    assert.equal(t.count, 3);
    assert.equal(t.entriesAt, 27);
    assert.deepEqual(bytes.subarray(t.entriesAt, bytes.length - TRAILER_BYTES), index);
    assert.equal(checkIndex(index, t.checksum, t.entriesAt), undefined);
    const flipped = Buffer.from(index);
    flipped[33] ^= 1; // an offset
    assert.match(checkIndex(flipped, t.checksum, t.entriesAt)!, /checksum/);
    assert.match(checkIndex(index, t.checksum, 20)!, /past the pack's 20 bytes/, 'an entry beyond the blob region');
    assert.match(readTrailer(Buffer.alloc(TRAILER_BYTES), 100) as string, /signature/);
    assert.match(readTrailer(bytes.subarray(bytes.length - TRAILER_BYTES), 3 * ENTRY_BYTES) as string, /more than/);
    assert.match(readTrailer(Buffer.alloc(10), 10) as string, /shorter/);
  });

  it('table: finds, moves and deletes digests that share their first 32 bits, across growth and tombstones', () => {
    const index: Buffer[] = [];
    const table = new PackTable((pack, entry, digest) => index[pack].compare(digest, 0, 32, entry * 32, entry * 32 + 32) === 0);
    // 5,000 digests in 5 "packs", every pair sharing a 32-bit prefix (the worst case for the table).
    const digests = Array.from({ length: 5000 }, (_, i) => {
      const d = createHash('sha256').update(`d${i >> 1}`).digest();
      if (i & 1) d[31] ^= 0xff;
      return d;
    });
    for (let p = 0; p < 5; p++) index.push(Buffer.concat(digests.slice(p * 1000, p * 1000 + 1000)));
    digests.forEach((d, i) => assert.equal(table.add(d, Math.floor(i / 1000), i % 1000), true));
    assert.equal(table.add(digests[17], 4, 999), false, 'present already');
    assert.equal(table.size, 5000);
    digests.forEach((d, i) => assert.deepEqual(table.find(d), { pack: Math.floor(i / 1000), entry: i % 1000 }));
    for (let i = 0; i < 5000; i += 2) assert.equal(table.delete(digests[i]), true);
    assert.equal(table.delete(digests[0]), false);
    digests.forEach((d, i) => assert.deepEqual(table.find(d), i % 2 ? { pack: Math.floor(i / 1000), entry: i % 1000 } : undefined, `digest ${i}`));
    table.move(digests[1], 0, 0); // now claims entry 0 of pack 0: the table trusts the caller, as LocalPacks' rewrite does
    index[0] = Buffer.concat([digests[1], index[0].subarray(32)]);
    assert.deepEqual(table.find(digests[1]), { pack: 0, entry: 0 });
    for (let i = 0; i < 5000; i += 2) assert.equal(table.add(digests[i], Math.floor(i / 1000), i % 1000), true, 're-added over tombstones');
    assert.equal(table.size, 5000);
    assert.equal(table.find(createHash('sha256').update('never added').digest()), undefined);
  });

  it('a sole store writes one pack per batch and serves its blobs by stat, bytes, ranges and in bulk', async () => {
    const store = new LocalBlobStore(dir);
    await store.init({ sole: true });
    assert.equal(store.packMaxBlobBytes, 1 << 20);
    const blobs = Array.from({ length: 50 }, (_, i) => blob(`small blob ${i} `.repeat(i)));
    const bad = { digest: sha('claimed'), bytes: Buffer.from('sent') };
    const out = await store.putPack([...blobs, bad, blobs[3]]);
    assert.deepEqual(out.failed, [{ digest: bad.digest, actual: sha('sent') }], 'a mismatch is reported and stored nowhere');
    assert.equal(out.stored.length, 50, 'a digest twice in one batch is stored once');
    assert.ok(out.stored.every((s) => s.created));
    assert.equal(packFiles().length, 1);
    assert.deepEqual(readdirSync(join(dir, 'sha256')), [], 'no file per blob');
    assert.deepEqual(readdirSync(join(dir, 'tmp')), [], 'the temp file was renamed');
    assert.equal(await store.stat(bad.digest), undefined);

    assert.equal((await store.stat(blobs[7].digest))?.size, blobs[7].bytes.length);
    assert.equal((await store.statMany(blobs.map((b) => b.digest))).size, 50);
    assert.deepEqual(await store.readBytes(blobs[9].digest), blobs[9].bytes);
    assert.deepEqual(await drain(store.read(blobs[9].digest)), blobs[9].bytes);
    assert.deepEqual(await drain(store.read(blobs[9].digest, { start: 2, end: 5 })), blobs[9].bytes.subarray(2, 6));
    assert.deepEqual(await drain(store.read(blobs[0].digest)), Buffer.alloc(0), 'an empty blob streams nothing');

    // A batch download mixes packed blobs with blobs stored as files.
    const single = blob('uploaded on its own');
    await store.putBytes(single.digest, single.bytes);
    const want = [blobs[20], single, blobs[1], blobs[20]];
    assert.deepEqual(await drain(store.readMany(want.map((b) => ({ digest: b.digest, size: b.bytes.length })))), Buffer.concat(want.map((b) => b.bytes)));

    // Stored again: known, not written again.
    const again = await store.putPack([blobs[5], blob('new one')]);
    assert.deepEqual(again.stored.map((s) => s.created), [false, true]);
    assert.equal((await store.putBytes(blobs[6].digest, blobs[6].bytes)).created, false);
    assert.equal((await store.put(blobs[6].digest, Readable.from([blobs[6].bytes]), blobs[6].bytes.length)).created, false);
    await store.flush();
    assert.deepEqual(await listed(store), [...new Set([...blobs.map((b) => b.digest), single.digest, sha('new one')])].sort());
  });

  it('packs are found again after a restart; a damaged pack is moved aside and its blobs count as absent', async () => {
    const first = new LocalBlobStore(dir);
    await first.init({ sole: true });
    const a = [blob('a1'), blob('a2')];
    const b = [blob('b1'), blob('b2')];
    await first.putPack(a);
    await first.putPack(b);
    await first.flush();
    const [packA, packB] = packFiles().map((n) => join(dir, 'packs', n)).sort((x, y) => (readFileSync(x).includes('a1') ? -1 : 1) - (readFileSync(y).includes('a1') ? -1 : 1));
    truncateSync(packB, statSync(packB).size - 1);

    const second = new LocalBlobStore(dir);
    const init = await second.init({ sole: true });
    assert.equal(init.damagedPacks.length, 1);
    assert.equal(init.damagedPacks[0].file, packB);
    assert.match(init.damagedPacks[0].why, /checksum|signature|more than/);
    assert.ok(existsSync(join(dir, 'damaged', packB.split('/').pop()!)), 'kept aside, not deleted');
    assert.deepEqual(await second.readBytes(a[1].digest), a[1].bytes);
    assert.equal((await second.stat(a[0].digest))?.mtimeMs, statSync(packA).mtimeMs, "a packed blob's time is its pack's");
    assert.equal(await second.stat(b[0].digest), undefined, 'a blob of the damaged pack is absent: clients upload it again');
    await second.putPack(b);
    assert.deepEqual(await second.readBytes(b[0].digest), b[0].bytes);
  });

  it('GC: packed blobs are listed and forgotten; a pack with none left is deleted, an old mostly-dead one rewritten', async () => {
    const store = new LocalBlobStore(dir);
    await store.init({ sole: true });
    const gone = [blob('gone 1'), blob('gone 2')];
    const mixed = Array.from({ length: 10 }, (_, i) => blob(`mixed ${i} `.repeat(20)));
    await store.putPack(gone);
    await store.putPack(mixed);
    await store.flush();
    const [mixedPack] = packFiles().filter((n) => readFileSync(join(dir, 'packs', n)).includes('mixed'));
    for (const g of gone) await store.remove(g.digest);
    for (const m of mixed.slice(0, 7)) await store.remove(m.digest);
    assert.equal(await store.stat(gone[0].digest), undefined);

    // Young packs are only deleted when empty; rewriting waits for the grace period.
    assert.deepEqual(await store.compactPacks(undefined, 3600_000), { deleted: 1, rewritten: 0, bytesReclaimed: 12 });
    assert.deepEqual(packFiles(), [mixedPack]);

    const old = new Date(Date.now() - 7200_000);
    utimesSync(join(dir, 'packs', mixedPack), old, old);
    const restarted = new LocalBlobStore(dir);
    await restarted.init({ sole: true });
    assert.equal((await listed(restarted)).length, 10, 'a removal is forgotten by a restart: the bytes are still there, GC finds them again');
    for (const m of mixed.slice(0, 7)) await restarted.remove(m.digest);
    const live = mixed.slice(7);
    const liveBytes = live.reduce((n, m) => n + m.bytes.length, 0);
    const allBytes = mixed.reduce((n, m) => n + m.bytes.length, 0);
    assert.deepEqual(await restarted.compactPacks(undefined, 3600_000), { deleted: 0, rewritten: 1, bytesReclaimed: allBytes - liveBytes });
    assert.equal(packFiles().length, 1);
    assert.notEqual(packFiles()[0], mixedPack, 'a new pack replaced the old one');
    for (const m of live) assert.deepEqual(await restarted.readBytes(m.digest), m.bytes);
    assert.ok(Math.abs((await restarted.stat(live[0].digest))!.mtimeMs - old.getTime()) < 1000, 'the rewritten blobs keep their age');

    const third = new LocalBlobStore(dir);
    await third.init({ sole: true });
    assert.deepEqual(await listed(third), live.map((m) => m.digest).sort(), 'the rewrite survives a restart');
    assert.ok(Math.abs((await third.stat(live[0].digest))!.mtimeMs - old.getTime()) < 1000, 'and so does their age');
    await third.touch(live[0].digest);
    assert.ok((await third.stat(live[1].digest))!.mtimeMs > Date.now() - 60_000, 'a touch starts the grace period again for the whole pack');
  });

  it('a folder shared by replicas writes no packs and never reclaims them, but reads what an embedded server packed', async () => {
    const embedded = new LocalBlobStore(dir);
    await embedded.init({ sole: true });
    const b = [blob('packed before the move to team mode'), blob('another')];
    await embedded.putPack(b);
    await embedded.flush();

    const replica = new LocalBlobStore(dir);
    await replica.init();
    assert.equal(replica.packMaxBlobBytes, 0, 'batch uploads store one file per blob');
    await assert.rejects(replica.putPack([blob('x')]), /sole user/);
    assert.deepEqual(await replica.readBytes(b[0].digest), b[0].bytes);
    assert.deepEqual(await listed(replica), [], 'GC of a replica leaves packed blobs alone');
    assert.deepEqual(await replica.compactPacks(undefined, 0), { deleted: 0, rewritten: 0, bytesReclaimed: 0 });
    writeFileSync(join(dir, 'packs', 'not-a-pack.txt'), 'ignored');
    const again = new LocalBlobStore(dir);
    assert.deepEqual((await again.init()).damagedPacks, [], 'files not named like packs are left alone');
  });
});
