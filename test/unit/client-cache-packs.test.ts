import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BlobCache } from '../../src/client/cache.js';
import { damageCached } from '../support/cacheBlobs.js';
import { ENTRY_BYTES, TRAILER_BYTES } from '../../src/core/node/packFormat.js';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const blob = (i: number, size = 4096) => Buffer.alloc(size, i % 251).fill(`blob ${i} `, 0, Math.min(12, size));

describe('client: small blobs of the download cache in packs', function () {
  this.timeout(30_000);
  let dir: string;
  let cacheDir: string;
  const packsOf = async () => (await readdir(path.join(cacheDir, 'packs')).catch(() => [] as string[])).sort();
  const copy = (cache: BlobCache, b: Buffer, name: string) => cache.copyOut(sha(b), b.length, path.join(dir, name));

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'amphora-packs-'));
    cacheDir = path.join(dir, 'cache');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a put and a download each write their small blobs as one pack; another process reads them all, and absent() reports none', async () => {
    const writer = new BlobCache(cacheDir);
    const put = Array.from({ length: 300 }, (_, i) => blob(i));
    const got = Array.from({ length: 300 }, (_, i) => blob(1000 + i, 1 + i * 37));
    for (const b of put) writer.adoptBytes(b, sha(b));
    // Held, not written yet, and readable by this process already.
    assert.deepEqual(await packsOf(), []);
    assert.ok(await copy(writer, put[7], 'pending.out'));
    assert.deepEqual(await readFile(path.join(dir, 'pending.out')), put[7]);
    writer.settle();
    for (const b of got) await writer.storeBytes(b, sha(b), 'a blob');
    writer.settle();
    assert.equal((await packsOf()).length, 2, 'one pack per operation');
    assert.deepEqual(await readdir(path.join(cacheDir, 'blobs', 'sha256')).catch(() => []), [], 'no blob file');

    const reader = new BlobCache(cacheDir);
    reader.listShardsFrom = 1;
    assert.deepEqual([...reader.absent([...put, ...got].map(sha))], []);
    await mkdir(path.join(dir, 'out'));
    for (const [i, b] of [...put, ...got].entries()) {
      const st = await reader.copyOut(sha(b), b.length, path.join(dir, 'out', String(i)), true);
      assert.equal(st?.size, b.length);
      assert.deepEqual(await readFile(path.join(dir, 'out', String(i))), b);
    }
    assert.equal(await reader.verify(sha(got[5])), true);
    // A manifest giving a packed blob another size (a hostile or broken server) writes nothing and
    // costs the cache nothing.
    assert.equal(await reader.copyOut(sha(put[3]), put[3].length + 1, path.join(dir, 'wrong-size.out')), undefined);
    await assert.rejects(stat(path.join(dir, 'wrong-size.out')));
    assert.equal(reader.corrupted, 0);
    assert.equal(reader.packs.dropped, 0);
    assert.ok(await copy(reader, put[3], 'right-size.out'));
    const unknown = blob(99_999);
    assert.deepEqual([...reader.absent([sha(unknown)])], [sha(unknown)]);
    assert.equal(await copy(reader, unknown, 'unknown.out'), undefined);
    reader.settle();
    assert.equal((await packsOf()).length, 2, 'a reader that added nothing writes no pack');
  });

  it('a blob whose bytes in a pack fail their digest drops the whole pack: nothing is written from it, and its blobs count as absent', async () => {
    const writer = new BlobCache(cacheDir);
    const blobs = [blob(1), blob(2), blob(3)];
    for (const b of blobs) writer.adoptBytes(b, sha(b));
    writer.settle();
    const [name] = await packsOf();
    const file = path.join(cacheDir, 'packs', name);
    const bytes = await readFile(file);
    bytes[4096 + 100] ^= 1; // inside the second blob; the index stays valid
    await writeFile(file, bytes);

    const reader = new BlobCache(cacheDir);
    assert.ok(await copy(reader, blobs[0], 'first.out'), 'the first blob still verifies');
    assert.equal(await copy(reader, blobs[1], 'second.out'), undefined);
    await assert.rejects(stat(path.join(dir, 'second.out')), 'nothing is written from bad bytes');
    assert.equal(reader.corrupted, 1);
    assert.deepEqual(await packsOf(), [], 'the pack is deleted');
    reader.listShardsFrom = 1;
    assert.equal(reader.absent(blobs.map(sha)).size, 3, 'its blobs are fetched again');
    assert.equal(await copy(reader, blobs[2], 'third.out'), undefined);
  });

  for (const [damage, how] of [
    ['a flipped index byte', async (file: string, size: number) => {
      const b = await readFile(file);
      b[size - TRAILER_BYTES - ENTRY_BYTES + 3] ^= 1;
      await writeFile(file, b);
    }],
    ['a truncated tail', (file: string, size: number) => truncate(file, size - 10)],
    ['a foreign file under a pack name', (file: string) => writeFile(file, 'not a pack at all, but long enough to hold a trailer of forty-eight bytes')],
  ] as const) {
    it(`a pack with ${damage} is deleted when the indexes are read, and its blobs count as absent`, async () => {
      const writer = new BlobCache(cacheDir);
      const b = blob(7);
      writer.adoptBytes(b, sha(b));
      writer.settle();
      const [name] = await packsOf();
      const file = path.join(cacheDir, 'packs', name);
      await how(file, (await stat(file)).size);
      const reader = new BlobCache(cacheDir);
      assert.equal(await copy(reader, b, 'out'), undefined);
      assert.deepEqual(await packsOf(), []);
      assert.equal(reader.packs.dropped, 1);
    });
  }

  it('a pack evicted by another process after its index was read counts as absent (the blob is fetched again), without an error', async () => {
    const writer = new BlobCache(cacheDir);
    const blobs = [blob(1), blob(2)];
    for (const b of blobs) writer.adoptBytes(b, sha(b));
    writer.settle();
    const reader = new BlobCache(cacheDir);
    assert.equal(reader.absent(blobs.map(sha)).size, 0, 'indexes read');
    await rm(path.join(cacheDir, 'packs'), { recursive: true });
    assert.equal(await copy(reader, blobs[0], 'out'), undefined);
    assert.equal(reader.corrupted, 0);
    // Fetched again: held and written as a new pack.
    await reader.storeBytes(blobs[0], sha(blobs[0]), 'a blob');
    reader.settle();
    assert.equal((await packsOf()).length, 1);
    assert.ok(await copy(new BlobCache(cacheDir), blobs[0], 'again.out'));
  });

  it('a long-lived process (the editor) sees packs other processes wrote since its last operation', async () => {
    const editor = new BlobCache(cacheDir);
    const first = blob(1);
    editor.listShardsFrom = 1;
    assert.equal(editor.absent([sha(first)]).size, 1, 'nothing cached yet');
    editor.settle();
    const cli = new BlobCache(cacheDir);
    cli.adoptBytes(first, sha(first));
    cli.settle();
    assert.equal(editor.absent([sha(first)]).size, 0, 'the next operation finds the new pack');
    assert.ok(await copy(editor, first, 'out'));
  });

  it('a pack of more blobs than one writev takes (IOV_MAX 1,024) holds every byte in place', async () => {
    const cache = new BlobCache(cacheDir);
    const blobs = Array.from({ length: 2500 }, (_, i) => blob(i, 13 + (i % 29)));
    for (const b of blobs) cache.adoptBytes(b, sha(b));
    cache.settle();
    assert.equal((await packsOf()).length, 1);
    const reader = new BlobCache(cacheDir);
    for (const [i, b] of blobs.entries()) {
      assert.ok(await copy(reader, b, `o${i}`), `blob ${i}`);
      assert.deepEqual(await readFile(path.join(dir, `o${i}`)), b);
    }
  });

  it('past 16 MiB held, a pack is written without waiting for the end of the operation', async () => {
    const cache = new BlobCache(cacheDir);
    for (let i = 0; i < 16; i++) {
      const b = blob(i, 1 << 20);
      cache.adoptBytes(b, sha(b));
    }
    assert.equal((await packsOf()).length, 1);
    const last = blob(16, 1 << 20);
    cache.adoptBytes(last, sha(last));
    cache.settle();
    assert.equal((await packsOf()).length, 2);
    assert.ok(await copy(new BlobCache(cacheDir), blob(3, 1 << 20), 'out'));
  });

  it('a cache whose packs folder cannot be made keeps nothing and throws nothing', async () => {
    await mkdir(cacheDir);
    await writeFile(path.join(cacheDir, 'packs'), 'a file where the folder goes');
    const cache = new BlobCache(cacheDir);
    const b = blob(1);
    cache.adoptBytes(b, sha(b));
    assert.doesNotThrow(() => cache.settle());
    assert.equal(await copy(new BlobCache(cacheDir), b, 'out'), undefined);
  });

  it('cleanup evicts whole packs, least recently used first, and removes a pack temp file only once it is stale', async () => {
    const cache = new BlobCache(cacheDir);
    const old = [blob(1), blob(2)];
    for (const b of old) cache.adoptBytes(b, sha(b));
    cache.settle();
    const [oldPack] = await packsOf();
    const hourAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(path.join(cacheDir, 'packs', oldPack), hourAgo, hourAgo);
    const fresh = blob(3);
    cache.adoptBytes(fresh, sha(fresh));
    cache.settle();
    // A pack being written by a process now, and one a crash left behind long ago.
    await writeFile(path.join(cacheDir, 'packs', `${'a'.repeat(32)}.pack.1.x.tmp`), 'in flight');
    await writeFile(path.join(cacheDir, 'packs', `${'b'.repeat(32)}.pack.2.y.tmp`), 'left by a crash');
    await utimes(path.join(cacheDir, 'packs', `${'b'.repeat(32)}.pack.2.y.tmp`), hourAgo, hourAgo);
    const packSize = async (n: string) => (await stat(path.join(cacheDir, 'packs', n))).size;
    const freshPack = (await packsOf()).find((n) => n.endsWith('.pack') && n !== oldPack)!;
    const r = await new BlobCache(cacheDir).cleanup(await packSize(freshPack));
    assert.equal(r.removed, 2, 'the stale temp file and the older pack');
    assert.deepEqual(await packsOf(), [`${'a'.repeat(32)}.pack.1.x.tmp`, freshPack].sort());
    const reader = new BlobCache(cacheDir);
    assert.equal(await copy(reader, old[0], 'old.out'), undefined);
    assert.ok(await copy(reader, fresh, 'fresh.out'));
  });

  it('cleanup merges the small packs that stay (one per operation) into one, verified, without duplicates, keeping their latest use; a large pack stays as it is', async () => {
    const ops = Array.from({ length: 5 }, (_, op) => [blob(op * 10), blob(op * 10 + 1), blob(999)]); // blob 999 in every pack
    for (const blobs of ops) {
      const cache = new BlobCache(cacheDir);
      for (const b of blobs) cache.adoptBytes(b, sha(b));
      cache.settle();
    }
    const large = new BlobCache(cacheDir);
    for (let i = 0; i < 16; i++) large.adoptBytes(blob(5000 + i, 1 << 20), sha(blob(5000 + i, 1 << 20)));
    large.settle();
    const before = await packsOf();
    assert.equal(before.length, 6);
    const sizes = new Map(await Promise.all(before.map(async (n) => [n, (await stat(path.join(cacheDir, 'packs', n))).size] as const)));
    const bigPack = before.find((n) => sizes.get(n)! >= 16 << 20)!;
    // Days ago, and one blob damaged: it is left out of the merged pack.
    const small = before.filter((n) => n !== bigPack);
    for (const [i, n] of small.entries()) {
      const t = new Date(Date.now() - (10 - i) * 86400_000);
      await utimes(path.join(cacheDir, 'packs', n), t, t);
    }
    damageCached(cacheDir, sha(ops[2][0]));
    const latest = Math.max(...(await Promise.all(small.map(async (n) => (await stat(path.join(cacheDir, 'packs', n))).mtimeMs))));

    const r = await new BlobCache(cacheDir).cleanup(2 ** 40);
    assert.deepEqual([r.removed, r.packsMerged, r.packsWritten], [0, 5, 1]);
    const after = await packsOf();
    assert.equal(after.length, 2);
    assert.ok(after.includes(bigPack), 'the large pack is not rewritten');
    const mergedPack = after.find((n) => n !== bigPack)!;
    assert.equal(Math.round((await stat(path.join(cacheDir, 'packs', mergedPack))).mtimeMs / 1000), Math.round(latest / 1000), 'the merged pack keeps its sources\' latest use');
    const index = await readFile(path.join(cacheDir, 'packs', mergedPack));
    assert.equal(index.readUInt32LE(index.length - TRAILER_BYTES + 8), 5 * 2 + 1 - 1, 'ten distinct blobs, blob 999 once, the damaged one left out');
    const reader = new BlobCache(cacheDir);
    for (const [op, blobs] of ops.entries()) {
      for (const [i, b] of blobs.entries()) {
        const got = await copy(reader, b, `m-${op}-${i}`);
        if (op === 2 && i === 0) assert.equal(got, undefined, 'the damaged blob is gone');
        else assert.ok(got, `op ${op} blob ${i}`);
      }
    }
    assert.equal(reader.corrupted, 0);
    assert.deepEqual((await new BlobCache(cacheDir).cleanup(2 ** 40)).packsMerged, 0, 'a second cleanup has nothing to merge');
  });
});
