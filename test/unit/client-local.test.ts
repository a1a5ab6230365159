import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFile, chmod, mkdtemp, mkdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Artifact } from '../../src/client/artifact.js';
import { BlobCache, parseSize } from '../../src/client/cache.js';
import { cachedBlobPath } from '../../src/core/node/config.js';
import { parseBlock } from '../../src/client/events.js';
import { hashFile, StatCache } from '../../src/client/hash.js';
import { mapPool } from '../../src/client/pool.js';
import { AmphoraError } from '../../src/core/errors.js';

const readdirNames = async (d: string) => (await import('node:fs/promises')).readdir(d).catch(() => [] as string[]);
const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const isCode = (c: string) => (e: unknown) => e instanceof AmphoraError && e.code === c && e.message.length > 20;

describe('client: hashing and the stat cache', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'amphora-unit-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('hashes small and large files by streaming, equal to one-shot SHA-256', async () => {
    const small = path.join(dir, 's');
    const big = path.join(dir, 'b');
    const bigData = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    await writeFile(small, 'hello');
    await writeFile(big, bigData);
    const s = await hashFile(small, 5);
    assert.deepEqual([s.digest, s.size, s.bytes?.toString()], [sha('hello'), 5, 'hello']);
    assert.deepEqual(await hashFile(big), { digest: sha(bigData), size: bigData.length });
  });

  it('answers an unchanged file from the cache (also after reload) and re-hashes when it changes', async () => {
    const f = path.join(dir, 'a.txt');
    await writeFile(f, 'one');
    const cacheDir = path.join(dir, 'cache');
    const c1 = new StatCache(cacheDir);
    assert.equal((await c1.digest(f)).digest, sha('one'));
    assert.equal(c1.hashed, 1);
    assert.equal((await c1.digest(f)).digest, sha('one'));
    assert.equal(c1.hashed, 1, 'second lookup must not re-hash');
    await c1.flush();
    const c2 = new StatCache(cacheDir);
    assert.equal((await c2.digest(f)).digest, sha('one'));
    assert.equal(c2.hashed, 0, 'persisted cache must answer after reload');
    // Same size, new content, new mtime → re-hash.
    await writeFile(f, 'two');
    await utimes(f, new Date(), new Date(Date.now() + 5000));
    assert.equal((await c2.digest(f)).digest, sha('two'));
    assert.equal(c2.hashed, 1);
  });
});

describe('client: blob cache verifies on every read', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'amphora-unit-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names a blob as cachedBlobPath does (Python shares the layout), from any spelling of the cache dir; refuses a non-digest', () => {
    const digest = sha('x');
    for (const cacheDir of [path.join(dir, 'cache'), `${path.join(dir, 'cache')}/`, `${dir}/./cache`, path.relative(process.cwd(), path.join(dir, 'cache'))]) {
      assert.equal(new BlobCache(cacheDir).path(digest), cachedBlobPath(cacheDir, digest), cacheDir);
    }
    assert.throws(() => new BlobCache(dir).path('../../etc/passwd'), /digest/i);
    assert.throws(() => new BlobCache(dir).path(digest.toUpperCase()), /digest/i);
  });

  for (const size of [10, 2 * 1024 * 1024]) {
    it(`copies a good blob and drops a corrupted one (${size} bytes)`, async () => {
      const cache = new BlobCache(path.join(dir, 'cache'));
      const data = Buffer.alloc(size, 1);
      const digest = sha(data);
      const src = path.join(dir, 'src');
      await writeFile(src, data);
      await cache.adopt(src, digest);
      assert.equal(cache.path(digest), path.join(dir, 'cache', 'blobs', 'sha256', digest.slice(0, 2), digest));
      const out = path.join(dir, 'out');
      assert.equal(await cache.materialize(digest, size, out), true);
      assert.deepEqual(await readFile(out), data);
      // Corrupt the cached copy in place (same size): detected, deleted, reported missing.
      await rm(cache.path(digest));
      await writeFile(cache.path(digest), Buffer.alloc(size, 2));
      assert.equal(await cache.materialize(digest, size, path.join(dir, 'out2')), false);
      await assert.rejects(stat(cache.path(digest)));
      await assert.rejects(stat(path.join(dir, 'out2')), 'nothing is written from a corrupted blob');
      assert.equal(cache.corrupted, 1);
    });
  }

  it('small cached blobs: each copy holds exactly its own bytes; a shorter or longer cached file is dropped', async () => {
    const cache = new BlobCache(path.join(dir, 'cache'));
    const blobs = [Buffer.alloc(300, 7), Buffer.from('ten bytes!'), Buffer.alloc(0), Buffer.alloc(512 * 1024, 3)];
    for (const b of blobs) {
      await mkdir(path.dirname(cache.path(sha(b))), { recursive: true });
      await writeFile(cache.path(sha(b)), b);
    }
    // One after another, largest first: no bytes of an earlier blob may reach a later file.
    for (const [i, b] of [blobs[3], blobs[0], blobs[1], blobs[2]].entries()) {
      const out = path.join(dir, `small-${i}`);
      assert.equal(await cache.materialize(sha(b), b.length, out), true);
      assert.deepEqual(await readFile(out), b);
    }
    const grown = blobs[0];
    await writeFile(cache.path(sha(grown)), Buffer.concat([grown, Buffer.from('x')]));
    assert.equal(await cache.materialize(sha(grown), grown.length, path.join(dir, 'grown')), false, 'one byte more than the manifest says');
    await assert.rejects(stat(cache.path(sha(grown))), 'dropped');
    const shrunk = blobs[1];
    await writeFile(cache.path(sha(shrunk)), shrunk.subarray(0, 4));
    assert.equal(await cache.materialize(sha(shrunk), shrunk.length, path.join(dir, 'shrunk')), false);
    await assert.rejects(stat(cache.path(sha(shrunk))));
    await assert.rejects(stat(path.join(dir, 'grown')), 'nothing written from a wrong-sized blob');
    assert.equal(await cache.materialize(sha('absent'), 5, path.join(dir, 'absent')), false);
  });

  it('adopt never aliases a writable file (appending to it leaves the cached blob intact); read-only files are linked', async () => {
    const cache = new BlobCache(path.join(dir, 'cache'));
    const src = path.join(dir, 'train.csv');
    await writeFile(src, 'x,y\n1,2\n');
    const digest = sha('x,y\n1,2\n');
    await cache.adopt(src, digest);
    assert.notEqual((await stat(cache.path(digest))).ino, (await stat(src)).ino);
    await appendFile(src, '3,4\n');
    assert.equal(await readFile(cache.path(digest), 'utf8'), 'x,y\n1,2\n');
    const frozen = path.join(dir, 'frozen.bin');
    await writeFile(frozen, 'frozen');
    await chmod(frozen, 0o444);
    await cache.adopt(frozen, sha('frozen'));
    assert.equal((await stat(cache.path(sha('frozen')))).ino, (await stat(frozen)).ino);
  });

  it('adoptBytes keeps a copy of the bytes just hashed (a pack for small ones, a file for large), leaves an existing blob alone, and never fails on an unwritable cache', async () => {
    const cache = new BlobCache(path.join(dir, 'cache'));
    const bytes = Buffer.from('a,b\n1,2\n');
    cache.adoptBytes(bytes, sha(bytes));
    bytes.fill(0); // the caller's buffer changing later is not the cache's content
    cache.settle();
    const packs = await readdirNames(path.join(dir, 'cache', 'packs'));
    assert.equal(packs.length, 1, 'a small blob goes into a pack');
    assert.equal(await new BlobCache(path.join(dir, 'cache')).materialize(sha('a,b\n1,2\n'), 8, path.join(dir, 'small.out')), true);
    assert.equal(await readFile(path.join(dir, 'small.out'), 'utf8'), 'a,b\n1,2\n');
    cache.adoptBytes(Buffer.from('a,b\n1,2\n'), sha('a,b\n1,2\n'));
    cache.settle();
    assert.deepEqual(await readdirNames(path.join(dir, 'cache', 'packs')), packs, 'a packed blob is not packed again');
    // Over 1 MiB: a file, written in place.
    const large = Buffer.alloc((1 << 20) + 1, 5);
    cache.adoptBytes(large, sha(large));
    assert.deepEqual(await readFile(cache.path(sha(large))), large);
    const before = await stat(cache.path(sha(large)));
    cache.adoptBytes(Buffer.from(large), sha(large));
    assert.equal((await stat(cache.path(sha(large)))).ino, before.ino, 'an existing blob is not rewritten');
    assert.deepEqual(await readdirNames(path.dirname(cache.path(sha(large)))), [sha(large)], 'no temp file left');
    // A cache dir that is a file: nothing can be stored, nothing is thrown.
    await writeFile(path.join(dir, 'not-a-dir'), '');
    const broken = new BlobCache(path.join(dir, 'not-a-dir'));
    assert.doesNotThrow(() => broken.adoptBytes(Buffer.from('z'), sha('z')));
    assert.doesNotThrow(() => broken.adoptBytes(large, sha(large)));
    assert.doesNotThrow(() => broken.settle());
  });

  it('absent lists shard folders: all reported when the cache is cold, one folder read when it is full', async () => {
    const cache = new BlobCache(path.join(dir, 'cache'));
    cache.listShardsFrom = 1;
    // Two blobs in each of three shards.
    const blobs = ['00', '01', '02'].flatMap((shard) => [1, 2].map((i) => `${shard}${String(i).repeat(62)}`));
    assert.deepEqual([...cache.absent(blobs)].sort(), [...blobs].sort(), 'a cold cache: every blob reported');
    for (const d of blobs) {
      await mkdir(path.dirname(cache.path(d)), { recursive: true });
      await writeFile(cache.path(d), 'x');
    }
    assert.deepEqual([...cache.absent(blobs)], [], 'a full cache: none');
    // The first shard listed is missing one: every shard is listed and every gap reported.
    await rm(cache.path(blobs[0]));
    await rm(cache.path(blobs[5]));
    assert.deepEqual([...cache.absent(blobs)].sort(), [blobs[0], blobs[5]].sort());
    // The first shard is complete: the rest are taken as cached (a miss there costs one failed open later).
    await writeFile(cache.path(blobs[0]), 'x');
    assert.deepEqual([...cache.absent(blobs)], []);
  });

  it('stat cache flush remakes its folder when the cache was deleted while the process ran', async () => {
    const cacheDir = path.join(dir, 'cache');
    await writeFile(path.join(dir, 'f.txt'), 'x');
    const sc = new StatCache(cacheDir);
    await sc.digest(path.join(dir, 'f.txt'));
    await sc.flush();
    await rm(cacheDir, { recursive: true });
    await writeFile(path.join(dir, 'f.txt'), 'changed');
    await sc.digest(path.join(dir, 'f.txt'));
    await sc.flush();
    assert.equal((await new StatCache(cacheDir).digest(path.join(dir, 'f.txt'))).cached, true);
  });

  it('stat cache prune forgets folders that no longer exist and keeps the rest', async () => {
    const cacheDir = path.join(dir, 'cache');
    const keep = path.join(dir, 'keep');
    const gone = path.join(dir, 'gone');
    for (const d of [keep, gone]) {
      await mkdir(d);
      await writeFile(path.join(d, 'f.txt'), 'x');
    }
    const sc = new StatCache(cacheDir);
    for (const d of [keep, gone]) await sc.digest(path.join(d, 'f.txt'));
    await sc.flush();
    await rm(gone, { recursive: true });
    // A torn file (a writer killed mid-write) is worth nothing either.
    const shard = path.join(cacheDir, 'stat-cache', 'zz');
    await mkdir(shard, { recursive: true });
    await writeFile(path.join(shard, 'torn.json'), '{"dir": "/x", "entr');
    const r = await new StatCache(cacheDir).prune();
    assert.equal(r.folders, 2);
    assert.ok(r.bytes > 0);
    const again = new StatCache(cacheDir);
    const h = await again.digest(path.join(keep, 'f.txt'));
    assert.equal(h.cached, true, 'the folder that exists keeps its rows');
    assert.deepEqual(await new StatCache(cacheDir).prune(), { folders: 0, bytes: 0 });
  });

  it('storeBytes and adoptBytes create a large blob in place, keep a regular file already there, and replace a dangling symlink', async () => {
    const cache = new BlobCache(path.join(dir, 'cache'));
    const { lstat: lst } = await import('node:fs/promises');
    const big = (tag: string) => Buffer.concat([Buffer.from(tag), Buffer.alloc(1 << 20, 1)]);
    const a = big('alpha');
    await cache.storeBytes(a, sha(a), 'a');
    assert.deepEqual(await readFile(cache.path(sha(a))), a);
    assert.deepEqual(await readdirNames(path.dirname(cache.path(sha(a)))), [sha(a)], 'no temp file');
    const ino = (await stat(cache.path(sha(a)))).ino;
    await cache.storeBytes(a, sha(a), 'a');
    assert.equal((await stat(cache.path(sha(a)))).ino, ino, 'a stored blob is not rewritten');
    await assert.rejects(cache.storeBytes(big('evil'), sha(a), 'a'), isCode('digest_mismatch'));
    await assert.rejects(cache.storeBytes(Buffer.from('evil'), sha('good'), 'a'), isCode('digest_mismatch'), 'a small blob is verified before it is held for a pack');
    for (const [name, store] of [
      ['storeBytes', (b: Buffer) => cache.storeBytes(b, sha(b), 'b')],
      ['adoptBytes', async (b: Buffer) => cache.adoptBytes(b, sha(b))],
    ] as const) {
      const b = big(`bytes for ${name}`);
      await mkdir(path.dirname(cache.path(sha(b))), { recursive: true });
      await symlink(path.join(dir, 'nowhere'), cache.path(sha(b)));
      await store(b);
      assert.ok((await lst(cache.path(sha(b)))).isFile(), `${name}: the dangling link was replaced by the blob`);
      assert.deepEqual(await readFile(cache.path(sha(b))), b);
    }
    cache.settle();
    assert.deepEqual(await readdirNames(path.join(dir, 'cache', 'packs')), [], 'the refused small blob reached no pack');
  });

  it('storeStream refuses bytes that do not match the digest and leaves nothing behind', async () => {
    const cache = new BlobCache(path.join(dir, 'cache'));
    const { Readable } = await import('node:stream');
    await assert.rejects(cache.storeStream(Readable.from([Buffer.from('evil')]), sha('good'), 4, 'x'), isCode('digest_mismatch'));
    await assert.rejects(stat(cache.path(sha('good'))));
  });

  it('streamToAndStore writes a download and its cache copy in one pass; bad bytes leave neither', async () => {
    const { Readable } = await import('node:stream');
    const cache = new BlobCache(path.join(dir, 'cache'));
    const data = Buffer.alloc(5 * 1024 * 1024 + 3, 7);
    const pieces = () => Readable.from([data.subarray(0, 65536), data.subarray(65536)]);
    const dest = path.join(dir, 'dest.bin');
    const st = await cache.streamToAndStore(pieces(), dest, sha(data), data.length, '"dest.bin"');
    assert.equal(st.size, data.length);
    assert.deepEqual(await readFile(dest), data);
    assert.notEqual((await stat(cache.path(sha(data)))).ino, st.ino, 'the cache holds its own copy, not a link to the download');
    assert.deepEqual(await readFile(cache.path(sha(data))), data);
    // A flipped byte: digest_mismatch, no cache entry and no temp file in the cache.
    const bad = Buffer.from(data);
    bad[4_000_000] ^= 1;
    const dest2 = path.join(dir, 'dest2.bin');
    await assert.rejects(cache.streamToAndStore(Readable.from([bad]), dest2, sha('other'), bad.length, '"dest2.bin"'), isCode('digest_mismatch'));
    await assert.rejects(stat(cache.path(sha('other'))));
    assert.deepEqual(await readdirNames(path.dirname(cache.path(sha('other')))), []);
  });

  it('copies a large cached blob out in one read pass (a clone where the file system has them) and learns which', async () => {
    const cache = new BlobCache(path.join(dir, 'cache'));
    const data = Buffer.alloc(9 * 1024 * 1024 + 11, 5);
    await mkdir(path.dirname(cache.path(sha(data))), { recursive: true });
    await writeFile(cache.path(sha(data)), data);
    assert.equal(cache.clones, undefined);
    const out = path.join(dir, 'out.bin');
    const st = await cache.copyOut(sha(data), data.length, out, true);
    assert.equal(st?.size, data.length);
    assert.deepEqual(await readFile(out), data);
    assert.equal(typeof cache.clones, 'boolean', 'the first large copy tells whether this file system clones');
    // One byte changed behind the cache's back (same size): dropped, nothing left at the destination.
    const bad = Buffer.from(data);
    bad[bad.length - 1] ^= 1;
    await writeFile(cache.path(sha(data)), bad);
    assert.equal(await cache.copyOut(sha(data), data.length, path.join(dir, 'out2.bin'), true), undefined);
    await assert.rejects(stat(path.join(dir, 'out2.bin')));
    await assert.rejects(stat(cache.path(sha(data))));
  });

  it('cleanup evicts least recently used blobs down to the size', async () => {
    const cache = new BlobCache(path.join(dir, 'cache'));
    const digests: string[] = [];
    for (let i = 0; i < 4; i++) {
      const data = Buffer.alloc(1000, i);
      const f = path.join(dir, `f${i}`);
      await writeFile(f, data);
      const d = sha(data);
      await cache.adopt(f, d);
      const t = new Date(Date.now() - (10 - i) * 60_000);
      await utimes(cache.path(d), t, t);
      digests.push(d);
    }
    const r = await cache.cleanup(2500);
    assert.equal(r.removed, 2);
    assert.equal(r.keptBytes, 2000);
    await assert.rejects(stat(cache.path(digests[0])));
    await stat(cache.path(digests[3]));
  });

  it('parses sizes', () => {
    assert.equal(parseSize('0'), 0);
    assert.equal(parseSize('10GB'), 10 * 1024 ** 3);
    assert.equal(parseSize('1.5k'), 1536);
    assert.throws(() => parseSize('ten'), isCode('invalid_request'));
  });
});

describe('client: artifact building and path safety', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'amphora-unit-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('addDir walks nested folders with POSIX logical paths under an optional prefix', async () => {
    await mkdir(path.join(dir, 'data', 'sub'), { recursive: true });
    await writeFile(path.join(dir, 'data', 'a.csv'), 'a');
    await writeFile(path.join(dir, 'data', 'sub', 'b.csv'), 'b');
    await symlink(path.join(dir, 'data', 'a.csv'), path.join(dir, 'data', 'link.csv'));
    const art = new Artifact('mnist-raw', 'dataset');
    assert.equal(await art.addDir(path.join(dir, 'data'), { name: 'raw' }), 3);
    assert.deepEqual(art.stagedPaths().sort(), ['raw/a.csv', 'raw/link.csv', 'raw/sub/b.csv']);
  });

  it('addDir refuses a symlink pointing outside the folder, naming it', async () => {
    await mkdir(path.join(dir, 'data'));
    await writeFile(path.join(dir, 'secret'), 's');
    await symlink(path.join(dir, 'secret'), path.join(dir, 'data', 'escape'));
    const art = new Artifact('x', 'dataset');
    await assert.rejects(art.addDir(path.join(dir, 'data')), (e: unknown) => isCode('invalid_path')(e) && /escape/.test((e as Error).message) && /outside/.test((e as Error).message));
  });

  it('rejects hostile logical names and invalid artifact names', async () => {
    await writeFile(path.join(dir, 'f'), 'x');
    const art = new Artifact('x', 'dataset');
    for (const bad of ['../x', '/etc/passwd', 'a\\b', 'a\u0000b', 'a//b']) {
      await assert.rejects(art.addFile(path.join(dir, 'f'), { name: bad }), isCode('invalid_path'));
    }
    assert.throws(() => new Artifact('has space', 'dataset'), isCode('invalid_name'));
    assert.throws(() => new Artifact('ok', 'bad/type'), isCode('invalid_type'));
  });

  it('newFile writes into a private staging folder', async () => {
    const art = new Artifact('x', 'dataset');
    const f = await art.newFile('notes/readme.txt');
    await f.write('hi');
    await f.close();
    assert.equal(await readFile(f.path, 'utf8'), 'hi');
    assert.ok(!f.path.startsWith(process.cwd()));
    assert.deepEqual(art.stagedPaths(), ['notes/readme.txt']);
  });

  it('file:// references hash the content; a folder expands to its files', async () => {
    await mkdir(path.join(dir, 'ref', 'in'), { recursive: true });
    await writeFile(path.join(dir, 'ref', 'one.txt'), '1');
    await writeFile(path.join(dir, 'ref', 'in', 'two.txt'), '22');
    const art = new Artifact('x', 'dataset');
    const entries = await art.addReference(`file://${path.join(dir, 'ref')}`, { name: 'r' });
    const byPath = Object.fromEntries(entries.map((e) => [e.path, e]));
    assert.deepEqual(Object.keys(byPath).sort(), ['r/in/two.txt', 'r/one.txt']);
    assert.equal(byPath['r/in/two.txt'].digest, sha('22'));
    assert.equal(byPath['r/in/two.txt'].size, 2);
    assert.match(byPath['r/one.txt'].ref(), /^file:\/\//);
    const unchecked = await art.addReference(`file://${path.join(dir, 'ref', 'one.txt')}`, { name: 'u', checksum: false });
    assert.equal(unchecked[0].digest, `file://${path.join(dir, 'ref', 'one.txt')}`);
  });

  it('maxObjects caps a file:// folder too (as max_objects does in Python)', async () => {
    await mkdir(path.join(dir, 'capped'), { recursive: true });
    await writeFile(path.join(dir, 'capped', 'a.txt'), 'a');
    await writeFile(path.join(dir, 'capped', 'b.txt'), 'b');
    const art = new Artifact('x', 'dataset');
    await assert.rejects(art.addReference(`file://${path.join(dir, 'capped')}`, { maxObjects: 1 }), isCode('invalid_request'));
    assert.deepEqual(art.stagedPaths(), [], 'nothing staged');
    assert.equal((await art.addReference(`file://${path.join(dir, 'capped')}`, { maxObjects: 2 })).length, 2);
  });

  it('addFile of a missing file says so', async () => {
    await assert.rejects(new Artifact('x', 'dataset').addFile(path.join(dir, 'nope')), isCode('invalid_path'));
  });
});

describe('client: pool and SSE parsing', () => {
  it('mapPool keeps at most `limit` in flight and preserves order', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapPool([...Array(50).keys()], 4, async (i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      return i * 2;
    });
    assert.equal(peak, 4);
    assert.deepEqual(out, [...Array(50).keys()].map((i) => i * 2));
  });
  it('mapPool surfaces the first error', async () => {
    await assert.rejects(mapPool([1, 2, 3], 2, async (i) => { if (i === 2) throw new Error('boom'); return i; }), /boom/);
  });
  it('parses SSE blocks with ids, multi-line data and comments', () => {
    assert.deepEqual(parseBlock(': keepalive\nid: 7\nevent: msg\ndata: {"a":\ndata: 1}'), { id: '7', event: 'msg', data: '{"a":\n1}' });
    assert.deepEqual(parseBlock(': only a comment'), { id: undefined, event: undefined, data: undefined });
  });
});
