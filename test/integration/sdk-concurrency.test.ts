import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Api, Artifact } from '../../src/client/index.js';
import { startHarness, type Harness } from './sdk-harness.js';

describe('SDK: concurrent writers to one artifact name', function () {
  this.timeout(120_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await mkdir(h.work, { recursive: true });
  });
  after(async () => {
    await h?.close();
  });

  it('16 writers with different content get exactly v0…v15, latest on the last commit', async () => {
    const logged = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const f = path.join(h.work, `w${i}.txt`);
        await writeFile(f, `writer ${i}`);
        const a = new Artifact('contended', 'dataset');
        await a.addFile(f, { name: 'data.txt' });
        return a.log({ client: h.client, project: 'cc' });
      }),
    );
    const versions = logged.map((a) => a.version!).sort((x, y) => Number(x.slice(1)) - Number(y.slice(1)));
    assert.deepEqual(versions, Array.from({ length: 16 }, (_, i) => `v${i}`));
    const latest = await new Api({ client: h.client }).artifact('cc/contended:latest');
    assert.equal(latest.version, 'v15');
  });

  it('16 writers with identical content get one version', async () => {
    const f = path.join(h.work, 'same.txt');
    await writeFile(f, 'same bytes');
    const logged = await Promise.all(
      Array.from({ length: 16 }, async () => {
        const a = new Artifact('identical', 'dataset');
        await a.addFile(f);
        return a.log({ client: h.client, project: 'cc' });
      }),
    );
    assert.deepEqual([...new Set(logged.map((a) => a.version))], ['v0']);
    assert.equal((await new Api({ client: h.client }).artifactVersions('dataset', 'cc/identical')).length, 1);
  });
});

describe('SDK: a stat cache that knows files the server lacks', function () {
  this.timeout(120_000);
  it('re-logging known files to a new server uploads them after the commit reports missing blobs', async () => {
    const h1 = await startHarness();
    try {
      const src = path.join(h1.work, 'known');
      await mkdir(src, { recursive: true });
      for (let i = 0; i < 5; i++) await writeFile(path.join(src, `k${i}.txt`), `known ${i}`);
      const a = new Artifact('known', 'dataset');
      await a.addDir(src);
      await a.log({ client: h1.client, project: 'k' });
      // Same cache dir (stat cache says "known"), but an empty server.
      const h2 = await startHarness({ cacheDir: h1.cacheDir });
      try {
        const hashedBefore = h2.client.statCache.hashed;
        const b = new Artifact('known', 'dataset');
        await b.addDir(src);
        await b.log({ client: h2.client, project: 'k' });
        assert.equal(b.version, 'v0');
        assert.equal(b.digest, a.digest);
        assert.equal(h2.client.statCache.hashed, hashedBefore, 'nothing re-hashed');
        const consumer = await h2.freshClient();
        const got = await new Api({ client: consumer }).artifact('k/known');
        const r = await got.download({ root: path.join(h2.work, 'out') });
        assert.equal(r.fetched, 5);
      } finally {
        await h2.close();
      }
    } finally {
      await h1.close();
    }
  });
});

describe('SDK: mixed small and large files', function () {
  this.timeout(120_000);
  it('streams files over 1 MiB one per request and batches the small ones; all download byte-identical', async () => {
    const h = await startHarness();
    try {
      const src = path.join(h.work, 'mixed');
      await mkdir(src, { recursive: true });
      const big = Buffer.alloc(3 * 1024 * 1024 + 5);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
      await writeFile(path.join(src, 'big.bin'), big);
      for (let i = 0; i < 30; i++) await writeFile(path.join(src, `s${i}.txt`), `small ${i}`);
      const a = new Artifact('mixed', 'dataset');
      await a.addDir(src);
      const mark = h.requests.length;
      await a.log({ client: h.client, project: 'm' });
      const sent = h.requests.slice(mark);
      assert.equal(sent.filter((r) => r.startsWith('PUT ')).length, 1, 'the large file goes alone');
      assert.equal(sent.filter((r) => /^POST .*\/blobs\/batch$/.test(r)).length, 1, 'the 30 small files go together');
      const consumer = await h.freshClient();
      const got = await new Api({ client: consumer }).artifact('m/mixed');
      const root = path.join(h.work, 'mixed-out');
      const r = await got.download({ root });
      assert.equal(r.fetched, 31);
      const { readFile } = await import('node:fs/promises');
      assert.ok((await readFile(path.join(root, 'big.bin'))).equals(big));
      assert.equal(await readFile(path.join(root, 's7.txt'), 'utf8'), 'small 7');
    } finally {
      await h.close();
    }
  });
});
