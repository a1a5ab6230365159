/**
 * An embedded server keeps the small blobs of batch uploads in packs of its blob folder: through
 * real HTTP, a batch upload, commits, downloads, GC and a restart on the same data dir.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { itEmbedded, sha256, startTestServer, tempDir, type TestServer } from './server-helpers.js';
import { localBlobsOnly } from '../support/testBlobs.js';

describe('embedded server: small blobs in packs of the blob folder', function () {
  this.timeout(60_000);
  let s: TestServer | undefined;
  afterEach(async () => s?.stop());

  const batch = (blobs: Buffer[]) => {
    const header = JSON.stringify({ blobs: blobs.map((b) => ({ digest: sha256(b), size: b.length })) }) + '\n';
    return Buffer.concat([Buffer.from(header), ...blobs]);
  };
  const upload = async (t: TestServer, blobs: Buffer[]) => {
    const r = await t.api.req('POST', '/api/v1/blobs/batch', batch(blobs), { 'content-type': 'application/octet-stream' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r;
  };
  const commit = async (t: TestServer, name: string, blobs: Buffer[]) => {
    const manifest = Object.fromEntries(blobs.map((b, i) => [`f${i}.txt`, { digest: sha256(b), size: b.length }]));
    const e = await t.api.entity();
    const r = await t.api.post(`/api/v1/projects/${e}/packs/artifacts/${name}/versions`, { type: 'dataset', manifest });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  };
  const batchGet = async (t: TestServer, blobs: Buffer[]) => {
    const r = await fetch(`${t.server.url}/api/v1/blobs/batch-get`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.api.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ digests: blobs.map((b) => sha256(b)) }),
    });
    assert.equal(r.status, 200);
    return Buffer.from(await r.arrayBuffer());
  };
  const packs = (dir: string) => readdirSync(join(dir, 'blobs', 'packs')).filter((n) => n.endsWith('.pack'));
  const blobFiles = (dir: string) => readdirSync(join(dir, 'blobs', 'sha256')).flatMap((p) => readdirSync(join(dir, 'blobs', 'sha256', p)));

  itEmbedded('a batch is one pack file; its blobs download, survive a restart, and GC deletes or rewrites their packs', async function () {
    localBlobsOnly(this, 'inspects the local blob folder');
    const dir = tempDir();
    s = await startTestServer({ dataDir: dir });
    const gone = Array.from({ length: 20 }, (_, i) => Buffer.from(`gone ${i}`));
    const kept = Array.from({ length: 3 }, (_, i) => Buffer.from(`kept ${i} `.repeat(10)));
    const dead = Array.from({ length: 7 }, (_, i) => Buffer.from(`dead ${i} `.repeat(30)));
    await upload(s, gone);
    await upload(s, [...kept, ...dead]);
    assert.equal(packs(dir).length, 2, 'one pack per batch');
    assert.deepEqual(blobFiles(dir), [], 'no file per blob');
    await commit(s, 'gone', gone);
    await commit(s, 'kept', kept);
    await commit(s, 'dead', dead);
    assert.deepEqual(await batchGet(s, [kept[2], dead[0], kept[0]]), Buffer.concat([kept[2], dead[0], kept[0]]));
    const one = await s.api.req('GET', `/api/v1/blobs/${sha256(kept[1])}`, undefined, { range: 'bytes=2-5' });
    assert.equal(one.status, 206);
    assert.equal(one.body, kept[1].subarray(2, 6).toString());

    await s.stop();
    s = await startTestServer({ dataDir: dir });
    assert.deepEqual(await batchGet(s, kept), Buffer.concat(kept), 'found again after a restart');
    // Uploading them again stores nothing new.
    const again = await upload(s, [kept[0], gone[0]]);
    assert.deepEqual((again.body as { items: { created: boolean }[] }).items.map((b) => b.created), [false, false]);
    assert.equal(packs(dir).length, 2);

    const e = await s.api.entity();
    for (const name of ['gone', 'dead']) assert.equal((await s.api.del(`/api/v1/projects/${e}/packs/artifacts/${name}/versions/v0?deleteAliases=true`)).status, 200);
    const gc = await s.api.post('/api/v1/admin/gc', { graceSeconds: 0 });
    assert.equal(gc.status, 200, JSON.stringify(gc.body));
    assert.equal(gc.body.deletedBlobs, 27);
    assert.deepEqual({ deleted: gc.body.packs.deleted, rewritten: gc.body.packs.rewritten }, { deleted: 1, rewritten: 1 });
    assert.equal(packs(dir).length, 1);
    assert.deepEqual(await batchGet(s, kept), Buffer.concat(kept), 'the survivors of a rewritten pack still download');
    assert.equal((await s.api.get(`/api/v1/blobs/${sha256(dead[0])}`)).status, 404);

    await s.stop();
    s = await startTestServer({ dataDir: dir });
    assert.deepEqual(await batchGet(s, kept), Buffer.concat(kept));
    assert.equal((await s.api.get(`/api/v1/blobs/${sha256(gone[3])}`)).status, 404, 'deleted packs stay deleted');
    assert.ok(!existsSync(join(dir, 'blobs', 'damaged')));
  });
});
