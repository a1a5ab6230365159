import assert from 'node:assert/strict';
import { artifactDigest } from '../../src/core/node/manifest.js';
import { sha256, startTestServer, type TestServer } from './server-helpers.js';
import { waitFor } from '../support/waitFor.js';

/** SPEC §1 artifact rules, through the HTTP API of a real server. */
describe('server: artifact rules (SPEC §1)', function () {
  this.timeout(60_000);
  let s: TestServer;
  let e: string;
  const P = 'rules';
  const versions = (name: string) => `/api/v1/projects/${e}/${P}/artifacts/${name}/versions`;

  before(async () => {
    s = await startTestServer();
    e = await s.api.entity();
  });
  after(async () => s?.stop());

  it('rejects invalid artifact names and types with 400 and a message', async () => {
    for (const bad of ['has space', 'a'.repeat(129), 'semi;colon', 'per%cent']) {
      const r = await s.api.logVersion(P, encodeURIComponent(bad), 'dataset', { 'a.txt': 'x' });
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.error.code, 'invalid_name');
      assert.match(r.body.error.message, /letters, digits/);
    }
    const r = await s.api.logVersion(P, 'ok-name', 'bad/type', { 'a.txt': 'x' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'invalid_type');
    const list = await s.api.get(`/api/v1/projects/${e}/${P}/artifacts`);
    assert.ok(list.status === 404 || list.body.items.every((c: { name: string }) => c.name !== 'ok-name'));
  });

  it('fixes the type of a name once created (type_mismatch names both types)', async () => {
    assert.equal((await s.api.logVersion(P, 'typed', 'dataset', { 'a.txt': '1' })).status, 201);
    const r = await s.api.logVersion(P, 'typed', 'model', { 'a.txt': '2' });
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, 'type_mismatch');
    assert.match(r.body.error.message, /"dataset"/);
    assert.match(r.body.error.message, /"model"/);
    assert.equal((await s.api.get(versions('typed'))).body.items.length, 1);
  });

  it('numbers versions v0, v1, … contiguously and never reuses a number after delete', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await s.api.logVersion(P, 'counted', 'dataset', { 'f.txt': `c${i}` })).body.version.version, `v${i}`);
    const del = await s.api.del(`${versions('counted')}/v2?deleteAliases=true`);
    assert.equal(del.status, 200);
    assert.equal(del.body.version.state, 'deleted');
    const next = await s.api.logVersion(P, 'counted', 'dataset', { 'f.txt': 'c3' });
    assert.equal(next.body.version.version, 'v3');
    const gone = await s.api.get(`${versions('counted')}/v2`);
    assert.equal(gone.status, 404);
    assert.match(gone.body.error.message, /deleted/);
    const list = await s.api.get(versions('counted'));
    assert.deepEqual(list.body.items.map((v: { version: string }) => v.version), ['v3', 'v1', 'v0']);
    // latest moved to the new version; after deleting the latest version it falls back.
    assert.equal((await s.api.get(`${versions('counted')}/latest`)).body.version, 'v3');
    await s.api.del(`${versions('counted')}/v3?deleteAliases=true`);
    assert.equal((await s.api.get(`${versions('counted')}/latest`)).body.version, 'v1');
  });

  it('computes the artifact digest by the spec rule, independent of description/metadata', async () => {
    const files = { 'b.txt': 'bee', 'a/x.txt': 'ex', 'é.txt': 'e-acute' };
    const manifest = Object.fromEntries(Object.entries(files).map(([p, c]) => [p, { digest: sha256(c), size: Buffer.byteLength(c) }]));
    const r = await s.api.logVersion(P, 'digested', 'dataset', files, { description: 'one', metadata: { k: 1 } });
    assert.equal(r.body.version.digest, artifactDigest(manifest));
    // Explicit rule: prefix + sorted "path:digest\n" lines.
    const lines = Object.keys(manifest).sort().map((p) => `${p}:${manifest[p].digest}\n`).join('');
    assert.equal(r.body.version.digest, sha256('amphora-manifest-v1\n' + lines));
  });

  it('deduplicates identical content: returns the existing version, applies aliases, moves latest', async () => {
    const v0 = await s.api.logVersion(P, 'dedup', 'dataset', { 'a.txt': 'same' });
    const v1 = await s.api.logVersion(P, 'dedup', 'dataset', { 'a.txt': 'other' });
    assert.equal(v1.body.version.version, 'v1');
    const again = await s.api.logVersion(P, 'dedup', 'dataset', { 'a.txt': 'same' }, { aliases: ['gold'] });
    assert.equal(again.status, 200);
    assert.equal(again.body.created, false);
    assert.equal(again.body.version.id, v0.body.version.id);
    assert.deepEqual(again.body.version.aliases, ['latest', 'gold']);
    assert.equal((await s.api.get(`${versions('dedup')}/latest`)).body.version, 'v0');
    assert.equal((await s.api.get(versions('dedup'))).body.items.length, 2);
  });

  it('keeps aliases unique within a collection and refuses vN-shaped aliases', async () => {
    await s.api.logVersion(P, 'aliased', 'model', { 'w.bin': 'w0' }, { aliases: ['best'] });
    const v1 = await s.api.logVersion(P, 'aliased', 'model', { 'w.bin': 'w1' }, { aliases: ['best'] });
    assert.deepEqual(v1.body.version.aliases, ['latest', 'best']);
    assert.deepEqual((await s.api.get(`${versions('aliased')}/v0`)).body.aliases, []);
    for (const bad of ['v1', 'v01', 'has space']) {
      const r = await s.api.logVersion(P, 'aliased', 'model', { 'w.bin': 'w2' }, { aliases: [bad] });
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.error.code, 'invalid_alias');
    }
    const patch = await s.api.patch(`${versions('aliased')}/v0`, { aliases: { add: ['v7'] } });
    assert.equal(patch.status, 400);
    assert.equal((await s.api.get(versions('aliased'))).body.items.length, 2, 'refused commits made no version');
  });

  it('refuses to delete an aliased version (latest counts, as in W&B) unless deleteAliases=true', async () => {
    await s.api.logVersion(P, 'guarded', 'model', { 'w.bin': 'g0' }, { aliases: ['production'] });
    await s.api.logVersion(P, 'guarded', 'model', { 'w.bin': 'g1' });
    const onlyLatest = await s.api.del(`${versions('guarded')}/v1`);
    assert.equal(onlyLatest.status, 409);
    assert.equal(onlyLatest.body.error.code, 'aliased_version');
    assert.match(onlyLatest.body.error.message, /latest/);
    const refused = await s.api.del(`${versions('guarded')}/v0`);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'aliased_version');
    assert.match(refused.body.error.message, /production/);
    assert.equal((await s.api.get(`${versions('guarded')}/production`)).body.version, 'v0');
    const ok = await s.api.del(`${versions('guarded')}/v0?deleteAliases=true`);
    assert.equal(ok.status, 200);
    assert.equal((await s.api.get(`${versions('guarded')}/production`)).status, 404);
  });

  it('updates description, metadata and aliases but never the manifest or digest', async () => {
    const v = (await s.api.logVersion(P, 'editable', 'dataset', { 'a.txt': 'ed' }, { metadata: { a: 1, b: 2 } })).body.version;
    const before = (await s.api.get(`${versions('editable')}/v0/manifest`)).body;
    let r = await s.api.patch(`${versions('editable')}/v0`, { description: 'new', metadataPatch: { b: null, c: 3 }, aliases: { add: ['x', 'y'] } });
    assert.equal(r.status, 200);
    assert.equal(r.body.description, 'new');
    assert.deepEqual(r.body.metadata, { a: 1, c: 3 });
    assert.deepEqual(r.body.aliases, ['latest', 'x', 'y']);
    r = await s.api.patch(`${versions('editable')}/v0`, { metadata: { only: true }, aliases: { set: ['z'] } });
    assert.deepEqual(r.body.metadata, { only: true });
    assert.deepEqual(r.body.aliases, ['latest', 'z']);
    r = await s.api.patch(`${versions('editable')}/v0`, { aliases: { remove: ['z'] } });
    assert.deepEqual(r.body.aliases, ['latest']);
    const manifestAttempt = await s.api.patch(`${versions('editable')}/v0`, { manifest: { 'evil.txt': { digest: sha256('e'), size: 1 } } });
    assert.ok(manifestAttempt.status === 200 || manifestAttempt.status === 400);
    const after = (await s.api.get(`${versions('editable')}/v0/manifest`)).body;
    assert.deepEqual(after, before);
    assert.equal((await s.api.get(`${versions('editable')}/v0`)).body.digest, v.digest);
  });

  it('lets `latest` be removed by hand (as W&B does) until the next logged version takes it', async () => {
    await s.api.logVersion(P, 'unlatest', 'dataset', { 'a.txt': 'u0' });
    const r = await s.api.patch(`${versions('unlatest')}/v0`, { aliases: { remove: ['latest'] } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.aliases, []);
    assert.equal((await s.api.get(`${versions('unlatest')}/latest`)).status, 404);
    // Without aliases v0 can now be deleted without deleteAliases.
    const v1 = await s.api.logVersion(P, 'unlatest', 'dataset', { 'a.txt': 'u1' });
    assert.deepEqual(v1.body.version.aliases, ['latest']);
    assert.equal((await s.api.del(`${versions('unlatest')}/v0`)).status, 200);
    // Moving it back by hand works too.
    await s.api.logVersion(P, 'unlatest', 'dataset', { 'a.txt': 'u2' });
    const moved = await s.api.patch(`${versions('unlatest')}/v1`, { aliases: { add: ['latest'] } });
    assert.deepEqual(moved.body.aliases, ['latest']);
    assert.equal((await s.api.get(`${versions('unlatest')}/latest`)).body.version, 'v1');
  });

  it('stores version tags and a ttl; gc soft-deletes expired versions with their aliases', async () => {
    const v0 = await s.api.logVersion(P, 'tagged', 'dataset', { 'a.txt': 't0' }, { tags: ['raw', 'raw', 'eu'], ttlSeconds: 1 });
    assert.deepEqual(v0.body.version.tags, ['raw', 'eu']);
    assert.equal(v0.body.version.ttlSeconds, 1);
    const again = await s.api.logVersion(P, 'tagged', 'dataset', { 'a.txt': 't0' }, { tags: ['more'] });
    assert.equal(again.body.created, false);
    assert.deepEqual(again.body.version.tags, ['raw', 'eu', 'more']);
    const v1 = await s.api.logVersion(P, 'tagged', 'dataset', { 'a.txt': 't1' });
    const p = await s.api.patch(`${versions('tagged')}/v1`, { tags: ['kept'], ttlSeconds: 3600 });
    assert.deepEqual([p.body.tags, p.body.ttlSeconds], [['kept'], 3600]);
    assert.equal(v1.status, 201);
    const bad = await s.api.patch(`${versions('tagged')}/v1`, { ttlSeconds: 0 });
    assert.equal(bad.status, 400);
    // The ttl counts from createdAt: a dry run lists v0 once its second has passed.
    await waitFor('tagged:v0 to expire', async () => (await s.api.post('/api/v1/admin/gc', { dryRun: true })).body.expiredVersions.includes(`${e}/${P}/tagged:v0`), 10_000, 100);
    assert.equal((await s.api.get(`${versions('tagged')}/v0`)).status, 200, 'a dry run deletes nothing');
    const gc = await s.api.post('/api/v1/admin/gc', {});
    assert.deepEqual(gc.body.expiredVersions, [`${e}/${P}/tagged:v0`]);
    assert.equal((await s.api.get(`${versions('tagged')}/v0`)).status, 404);
    assert.equal((await s.api.get(`${versions('tagged')}/v1`)).status, 200);
  });

  it('rejects hostile manifest paths with 400 invalid_path and stores nothing', async () => {
    const digest = sha256('p');
    await s.api.putBlob('p');
    for (const p of ['../x', '/etc/passwd', 'a\\b', 'nul\u0000x', 'a//b', 'C:/x']) {
      const r = await s.api.post(versions('paths'), { type: 'dataset', manifest: { [p]: { digest, size: 1 } } });
      assert.equal(r.status, 400, p);
      assert.equal(r.body.error.code, 'invalid_path', p);
    }
    const collide = await s.api.post(versions('paths'), { type: 'dataset', manifest: { a: { digest, size: 1 }, 'a/b': { digest, size: 1 } } });
    assert.equal(collide.status, 400);
    assert.match(collide.body.error.message, /both a file and a folder/);
    assert.equal((await s.api.get(versions('paths'))).status, 404);
  });

  it('refuses a commit whose blobs are not uploaded (missing_blobs lists them)', async () => {
    const digest = sha256('never uploaded');
    const r = await s.api.post(versions('blobless'), { type: 'dataset', manifest: { 'a.txt': { digest, size: 14 } } });
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, 'missing_blobs');
    assert.equal(r.body.error.details.missing[0].digest, digest);
  });

  it('keeps references without blobs and commits them', async () => {
    const r = await s.api.post(versions('refs'), {
      type: 'dataset',
      manifest: { 'remote.csv': { digest: 'etag-123', size: 10, ref: 'https://example.com/remote.csv', extra: { etag: 'etag-123' } } },
    });
    assert.equal(r.status, 201);
    const m = await s.api.get(`${versions('refs')}/v0/manifest`);
    assert.equal(m.body.entries['remote.csv'].ref, 'https://example.com/remote.csv');
  });

  it('distributed versions: upserts merge, a conflicting path is refused, pending is invisible until finish', async () => {
    const base = `/api/v1/projects/${e}/${P}/artifacts/dist/pending/group-1`;
    await s.api.putBlob('part-a');
    await s.api.putBlob('part-b');
    let r = await s.api.post(base, { type: 'dataset', manifest: { 'a.txt': { digest: sha256('part-a'), size: 6 } } });
    assert.equal(r.status, 200);
    r = await s.api.post(base, { type: 'dataset', manifest: { 'b.txt': { digest: sha256('part-b'), size: 6 } } });
    assert.deepEqual(r.body, { distributedId: 'group-1', fileCount: 2, size: 12 });
    const conflict = await s.api.post(base, { type: 'dataset', manifest: { 'a.txt': { digest: sha256('part-b'), size: 6 } } });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error.code, 'conflict');
    // Invisible to readers while pending.
    assert.deepEqual((await s.api.get(versions('dist'))).body.items, []);
    assert.equal((await s.api.get(`${versions('dist')}/latest`)).status, 404);
    assert.equal((await s.api.get(`/api/v1/resolve?ref=${e}/${P}/dist`)).status, 404);
    const fin = await s.api.post(`${base}/finish`, { aliases: ['merged'] });
    assert.equal(fin.status, 201);
    assert.equal(fin.body.version.version, 'v0');
    assert.equal(fin.body.version.fileCount, 2);
    assert.deepEqual(fin.body.version.aliases, ['latest', 'merged']);
    assert.equal((await s.api.post(`${base}/finish`, {})).status, 404);
  });

  it('reads: collection, versions paging, resolve with defaults, manifest, types, projects', async () => {
    for (let i = 0; i < 5; i++) await s.api.logVersion(P, 'paged', 'dataset', { 'f.txt': `p${i}` });
    const page1 = await s.api.get(`${versions('paged')}?limit=2`);
    assert.deepEqual(page1.body.items.map((v: { version: string }) => v.version), ['v4', 'v3']);
    const page2 = await s.api.get(`${versions('paged')}?limit=2&cursor=${page1.body.nextCursor}`);
    assert.deepEqual(page2.body.items.map((v: { version: string }) => v.version), ['v2', 'v1']);
    const coll = await s.api.get(`/api/v1/projects/${e}/${P}/artifacts/paged`);
    assert.equal(coll.body.versionCount, 5);
    assert.equal(coll.body.latest.version, 'v4');
    assert.equal((await s.api.get(`/api/v1/resolve?ref=${P}/paged:v2`)).body.version, 'v2');
    assert.equal((await s.api.get(`/api/v1/resolve?ref=paged&project=${P}`)).body.version, 'v4');
    const bad = await s.api.get(`/api/v1/resolve?ref=${encodeURIComponent('a:b:c')}`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'invalid_reference');
    const types = await s.api.get(`/api/v1/projects/${e}/${P}/artifact-types`);
    assert.ok(types.body.items.some((t: { type: string }) => t.type === 'model'));
    const projects = await s.api.get('/api/v1/projects');
    assert.ok(projects.body.items.find((p: { name: string }) => p.name === P).artifactCount > 5);
    const unknown = await s.api.get(`${versions('paged')}/v99`);
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error.message, /v0 to v4/);
  });
});
