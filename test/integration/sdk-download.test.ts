import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Api, Artifact, materialize } from '../../src/client/index.js';
import { AmphoraError } from '../../src/core/errors.js';
import { blobGets, startHarness, type Harness } from './sdk-harness.js';
import { cachedBytes } from '../support/cacheBlobs.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('SDK downloads into a root that does not exist yet', function () {
  this.timeout(60_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.close();
  });

  it('builds the root aside and renames it into place: large files streamed direct, small from batches, cache filled, nothing left beside it', async () => {
    const src = path.join(h.work, 'fresh-src');
    const big = randomBytes(3 << 20); // above the batch limit: streamed straight to its file
    const files: Record<string, Buffer> = { 'big.bin': big, 'copy/big.bin': big, 'a/b/small.txt': Buffer.from('small'), 'c.txt': Buffer.from('c') };
    for (const [p, data] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(src, p)), { recursive: true });
      await writeFile(path.join(src, p), data);
    }
    const art = new Artifact('fresh-root', 'dataset');
    await art.addDir(src);
    await art.log({ client: h.client, project: 'dl' });

    const consumer = await h.freshClient();
    const parent = path.join(h.work, 'not', 'there', 'yet');
    const root = path.join(parent, 'out');
    const a = await new Api({ client: consumer }).artifact('dl/fresh-root:latest');
    const mark = h.requests.length;
    const r = await a.download({ root });
    assert.equal(r.fetched, 4);
    const gets = h.requests.slice(mark);
    assert.equal(gets.filter((q) => /^GET .*\/blobs\/[0-9a-f]{64}$/.test(q)).length, 1, 'the large blob is fetched once for both of its paths');
    assert.equal(blobGets(gets), 2, 'plus one batch for the small files');
    for (const [p, data] of Object.entries(files)) assert.ok((await readFile(path.join(root, p))).equals(data), p);
    assert.deepEqual(await readdir(parent), ['out'], 'no staging folder left beside the root');
    const umask = process.umask();
    assert.equal((await stat(root)).mode & 0o777, 0o777 & ~umask, 'the root gets the usual mode, not a temp folder\'s 0700');
    assert.ok((await readFile(consumer.blobCache.path(sha(big)))).equals(big), 'the large blob reached the cache');

    // The recorded stats stay valid after the folder rename: a second download changes nothing.
    const again = await a.download({ root });
    assert.equal(again.unchanged, 4);
    // From the cache into another new root: nothing fetched.
    const r2 = await a.download({ root: path.join(parent, 'out2') });
    assert.equal(r2.fromCache, 4);
    assert.equal((await stat(path.join(parent, 'out2', 'copy', 'big.bin'))).size, big.length);
  });

  it('a cold download of small files neither probes the cache per file nor reads back what a batch brought (new and existing root)', async () => {
    const src = path.join(h.work, 'cold-src');
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 24; i++) files[`d${i % 3}/f${i}.txt`] = randomBytes(100 + i);
    for (const [p, data] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(src, p)), { recursive: true });
      await writeFile(path.join(src, p), data);
    }
    const art = new Artifact('cold-small', 'dataset');
    await art.addDir(src);
    await art.log({ client: h.client, project: 'dl' });
    for (const existing of [false, true]) {
      const consumer = await h.freshClient();
      consumer.blobCache.listShardsFrom = 1; // every shard is listed, as with thousands of files
      let copies = 0;
      const copyOut = consumer.blobCache.copyOut.bind(consumer.blobCache);
      consumer.blobCache.copyOut = (...args) => {
        copies++;
        return copyOut(...args);
      };
      const root = path.join(h.work, `cold-out-${existing}`);
      if (existing) await mkdir(root);
      const mark = h.requests.length;
      const r = await (await new Api({ client: consumer }).artifact('dl/cold-small:latest')).download({ root });
      assert.equal(r.fetched, 24);
      assert.equal(copies, 0, `${existing ? 'existing' : 'new'} root: no cache copy-out (each was a failed open before the fetch and a read back after it)`);
      assert.equal(blobGets(h.requests.slice(mark)), 1, 'one batch request');
      for (const [p, data] of Object.entries(files)) assert.ok((await readFile(path.join(root, p))).equals(data), p);
      for (const data of Object.values(files)) assert.ok(cachedBytes(consumer.cacheDir, sha(data))?.equals(data), 'the cache holds every blob');
      const again = await (await new Api({ client: consumer }).artifact('dl/cold-small:latest')).download({ root });
      assert.equal(again.unchanged, 24, 'the recorded stats match the written files');
    }
  });

  it('a failed download into a new root leaves neither the root nor its staging folder', async () => {
    const parent = path.join(h.work, 'fail-parent');
    await mkdir(parent, { recursive: true });
    const absent = { digest: 'f'.repeat(64), size: 5 };
    await assert.rejects(materialize(h.client, { 'x.txt': absent }, path.join(parent, 'out')), (e: unknown) => e instanceof AmphoraError && e.code === 'not_found');
    assert.deepEqual(await readdir(parent), []);
  });
});
