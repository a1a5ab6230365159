import assert from 'node:assert/strict';
import { statSync, readFileSync, utimesSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Discovery } from '../../src/core/node/config.js';
import { startServer } from '../../src/server/index.js';
import { itEmbedded, TEAM_DB, sha256, startTestServer, type TestServer } from './server-helpers.js';
import { localBlobsOnly } from '../support/testBlobs.js';

describe('server: access, hostile input, lock, discovery, gc', function () {
  this.timeout(60_000);
  let s: TestServer;
  let e: string;
  const P = 'guarded';

  before(async () => {
    s = await startTestServer();
    e = await s.api.entity();
  });
  after(async () => s?.stop());

  const snapshot = async () => JSON.stringify((await s.api.get('/api/v1/projects')).body);

  it('serves /health without a key; every other route needs the key (401 says where to find it)', async () => {
    const h = await fetch(`${s.server.url}/api/v1/health`);
    assert.equal(h.status, 200);
    assert.deepEqual(await h.json(), { ok: true, version: '0.1.0', mode: TEAM_DB ? 'team' : 'embedded' });
    for (const [path, auth] of [
      ['/api/v1/viewer', undefined],
      ['/api/v1/projects', 'Bearer wrong-key'],
      ['/api/v1/openapi.json', 'Basic abc'],
    ] as const) {
      const r = await fetch(s.server.url + path, { headers: auth ? { authorization: auth } : {} });
      assert.equal(r.status, 401, path);
      const body = (await r.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'unauthorized');
      assert.match(body.error.message, TEAM_DB ? /administrator/ : /server\.json/);
      assert.match(body.error.message, /AMPHORA_API_KEY/);
    }
    const viewer = await s.api.get('/api/v1/viewer');
    assert.deepEqual(Object.keys(viewer.body).sort(), ['defaultProject', 'entities', 'entity', 'mode', 'restricted', 'siteAdmin', 'user']);
    assert.equal(viewer.body.defaultProject, 'uncategorized');
    // The embedded owner (or a team server's bootstrap admin) is site admin, named like its entity.
    assert.equal(viewer.body.user, viewer.body.entity);
    assert.equal(viewer.body.siteAdmin, true);
    assert.equal(viewer.body.mode, s.server.mode);
  });

  itEmbedded('writes a 0600 discovery file with URL and key; a second server on the dir fails naming the first', async () => {
    const path = join(s.dir, 'server.json');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const d = Discovery.parse(JSON.parse(readFileSync(path, 'utf8')));
    assert.equal(d.url, s.server.url);
    assert.equal(d.apiKey, s.server.apiKey);
    assert.equal(d.pid, process.pid);
    await assert.rejects(startServer({ dataDir: s.dir, quiet: true }), (err: Error) => {
      assert.match(err.message, new RegExp(s.server.url.replace(/[.]/g, '\\.')));
      assert.match(err.message, new RegExp(`pid ${process.pid}`));
      return true;
    });
    assert.equal((await s.api.get('/api/v1/viewer')).status, 200, 'first server unaffected');
  });

  it('answers hostile input with 4xx ErrorBody and leaves the store unchanged', async () => {
    await s.api.logVersion(P, 'base', 'dataset', { 'a.txt': 'base' });
    const before = await snapshot();
    const versions = `/api/v1/projects/${e}/${P}/artifacts/base/versions`;
    const cases: [string, Promise<{ status: number; body: any }>, number][] = [
      ['malformed JSON', s.api.req('POST', versions, '{"type": "dataset", ', { 'content-type': 'application/json' }), 400],
      ['empty JSON', s.api.req('POST', versions, '', { 'content-type': 'application/json' }), 400],
      ['wrong shape', s.api.post(versions, { type: 42, manifest: [] }), 400],
      ['oversized JSON', s.api.req('POST', versions, '{"type":"dataset","description":"' + 'x'.repeat(33 * 1024 * 1024) + '"}', { 'content-type': 'application/json' }), 413],
      ['unknown route', s.api.get('/api/v1/nothing/here'), 404],
      ['unknown version', s.api.get(`${versions}/v42`), 404],
      ['unknown alias', s.api.get(`${versions}/champion`), 404],
      ['unknown artifact', s.api.get(`/api/v1/projects/${e}/${P}/artifacts/nope/versions/latest`), 404],
      ['unknown project', s.api.get(`/api/v1/projects/${e}/nope/artifacts`), 404],
      ['bad digest param', s.api.putBlob('abc', 'not-a-digest'), 400],
      ['bad page limit', s.api.get(`${versions}?limit=0`), 400],
      ['bad cursor', s.api.get(`${versions}?cursor=zzz`), 400],
      ['text/plain body', s.api.req('POST', versions, 'hello', { 'content-type': 'text/plain' }), 400],
      ['xml body', s.api.req('POST', versions, '<a/>', { 'content-type': 'application/xml' }), 415],
      ['delete unknown', s.api.del(`${versions}/v9`), 404],
      ['bad run state', s.api.get(`/api/v1/projects/${e}/${P}/runs?state=exploded`), 400],
    ];
    for (const [label, p, status] of cases) {
      const r = await p;
      assert.equal(r.status, status, `${label}: ${JSON.stringify(r.body).slice(0, 200)}`);
      assert.equal(typeof r.body.error.code, 'string', label);
      assert.ok(r.body.error.message.length > 20, label);
    }
    assert.equal(await snapshot(), before);
    assert.equal((await s.api.get(versions)).body.items.length, 1);
  });

  it('rejects a blob whose bytes do not match its digest (422) and keeps nothing', async () => {
    const claimed = sha256('the real bytes');
    const r = await s.api.putBlob('other bytes', claimed);
    assert.equal(r.status, 422);
    assert.equal(r.body.error.code, 'digest_mismatch');
    assert.match(r.body.error.message, new RegExp(sha256('other bytes')));
    assert.equal(existsSync(join(s.dir, 'blobs', 'sha256', claimed.slice(0, 2), claimed)), false);
    const neg = await s.api.post('/api/v1/blobs/negotiate', { blobs: [{ digest: claimed, size: 14 }] });
    assert.equal(neg.body.missing.length, 1);
    assert.equal(neg.body.missing[0].uploadUrl, `/api/v1/blobs/${claimed}`);
  });

  it('blobs: negotiate answers only for missing ones; PUT twice is idempotent; GET streams with Range', async () => {
    const data = Buffer.from('0123456789abcdef');
    const have = sha256(data);
    const first = await s.api.putBlob(data);
    assert.equal(first.status, 201);
    assert.deepEqual(first.body, { digest: have, size: 16, created: true });
    assert.equal((await s.api.putBlob(data)).body.created, false);
    const lacking = sha256('lacking');
    const neg = await s.api.post('/api/v1/blobs/negotiate', { blobs: [{ digest: have, size: 16 }, { digest: lacking, size: 7 }] });
    assert.deepEqual(neg.body.missing.map((m: { digest: string }) => m.digest), [lacking]);
    assert.equal((await s.api.post('/api/v1/blobs/flush')).status, 200);
    const whole = await fetch(`${s.server.url}/api/v1/blobs/${have}`, { headers: { authorization: `Bearer ${s.server.apiKey}` } });
    assert.equal(Buffer.from(await whole.arrayBuffer()).toString(), data.toString());
    const part = await fetch(`${s.server.url}/api/v1/blobs/${have}`, { headers: { authorization: `Bearer ${s.server.apiKey}`, range: 'bytes=10-' } });
    assert.equal(part.status, 206);
    assert.equal(await part.text(), 'abcdef');
    assert.equal((await s.api.get(`/api/v1/blobs/${lacking}`)).status, 404);
  });

  it('batch upload stores many small blobs from one request, verifying each; batch-get returns them in order', async () => {
    const blobs = Array.from({ length: 50 }, (_, i) => Buffer.from(`batch blob ${i} `.repeat(i + 1)));
    const header = JSON.stringify({ blobs: blobs.map((b) => ({ digest: sha256(b), size: b.length })) }) + '\n';
    const body = Buffer.concat([Buffer.from(header), ...blobs]);
    const up = await s.api.req('POST', '/api/v1/blobs/batch', body, { 'content-type': 'application/octet-stream' });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    assert.equal(up.body.items.length, 50);
    assert.ok(up.body.items.every((x: { created: boolean }) => x.created));
    const again = await s.api.req('POST', '/api/v1/blobs/batch', body, { 'content-type': 'application/octet-stream' });
    assert.ok(again.body.items.every((x: { created: boolean }) => !x.created));
    const neg = await s.api.post('/api/v1/blobs/negotiate', { blobs: blobs.map((b) => ({ digest: sha256(b), size: b.length })) });
    assert.deepEqual(neg.body.missing, []);

    const order = [7, 3, 49, 0];
    const got = await fetch(`${s.server.url}/api/v1/blobs/batch-get`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.server.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ digests: order.map((i) => sha256(blobs[i])) }),
    });
    assert.equal(got.status, 200);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(Buffer.concat(order.map((i) => blobs[i]))));
    const lacking = await s.api.post('/api/v1/blobs/batch-get', { digests: [sha256('not here at all')] });
    assert.equal(lacking.status, 404);

    // One corrupted blob: 422 naming it; the others are stored.
    const good = Buffer.from('good batch member');
    const lie = Buffer.from('these bytes lie');
    const claimed = sha256('what the header claims');
    const mixed = Buffer.concat([Buffer.from(JSON.stringify({ blobs: [{ digest: sha256(good), size: good.length }, { digest: claimed, size: lie.length }] }) + '\n'), good, lie]);
    const bad = await s.api.req('POST', '/api/v1/blobs/batch', mixed, { 'content-type': 'application/octet-stream' });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.error.details.failed[0].digest, claimed);
    assert.equal((await s.api.post('/api/v1/blobs/negotiate', { blobs: [{ digest: sha256(good), size: good.length }] })).body.missing.length, 0);
    for (const [label, payload] of [
      ['no header line', Buffer.from('garbage without newline')],
      ['bad header', Buffer.from('{"blobs": 3}\n')],
      ['short body', Buffer.concat([Buffer.from(JSON.stringify({ blobs: [{ digest: sha256('abc'), size: 3 }] }) + '\n'), Buffer.from('ab')])],
      ['extra bytes', Buffer.concat([Buffer.from(JSON.stringify({ blobs: [{ digest: sha256('abc'), size: 3 }] }) + '\n'), Buffer.from('abcd')])],
    ] as const) {
      const r = await s.api.req('POST', '/api/v1/blobs/batch', payload, { 'content-type': 'application/octet-stream' });
      assert.equal(r.status, 400, `${label}: ${JSON.stringify(r.body)}`);
    }
  });

  it('gc deletes only unreferenced blobs older than the grace period', async function () {
    localBlobsOnly(this, 'ages blobs through their file mtime; S3 GC is tested in s3-blobs.test.ts');
    const kept = (await s.api.logVersion(P, 'gc-kept', 'dataset', { 'k.txt': 'kept bytes' })).body.version;
    await s.api.logVersion(P, 'gc-gone', 'dataset', { 'g.txt': 'soon garbage' });
    await s.api.del(`/api/v1/projects/${e}/${P}/artifacts/gc-gone/versions/v0?deleteAliases=true`);
    await s.api.putBlob('orphan young');
    await s.api.putBlob('orphan old');
    const path = (c: string) => join(s.dir, 'blobs', 'sha256', sha256(c).slice(0, 2), sha256(c));
    const old = new Date(Date.now() - 3 * 86400_000);
    for (const c of ['orphan old', 'soon garbage', 'kept bytes']) utimesSync(path(c), old, old);

    const dry = await s.api.post('/api/v1/admin/gc', { dryRun: true });
    assert.equal(dry.status, 200);
    assert.ok(dry.body.deletedBlobs >= 2);
    assert.ok(existsSync(path('orphan old')), 'dry run deletes nothing');
    const real = await s.api.post('/api/v1/admin/gc', {});
    assert.equal(real.body.deletedBlobs, dry.body.deletedBlobs);
    assert.ok(real.body.keptYoung >= 1);
    assert.equal(existsSync(path('orphan old')), false);
    assert.equal(existsSync(path('soon garbage')), false, 'blob of a soft-deleted version');
    assert.ok(existsSync(path('orphan young')), 'young orphan kept by the grace period');
    assert.ok(existsSync(path('kept bytes')), 'referenced blob kept');
    assert.equal((await s.api.get(`/api/v1/blobs/${sha256('kept bytes')}`)).body, 'kept bytes');
    const all = await s.api.post('/api/v1/admin/gc', { graceSeconds: 0 });
    assert.ok(all.body.deletedBlobs >= 1);
    assert.equal(existsSync(path('orphan young')), false);
    assert.equal(kept.version, 'v0');
  });

  it('accepts blob bytes whatever content type the client library sends; stray JSON headers on GET/DELETE are harmless', async () => {
    for (const [i, type] of ['application/x-www-form-urlencoded', 'text/plain', ''].entries()) {
      const data = Buffer.from(`bytes sent as ${type || 'nothing'} ${i}`);
      const r = await s.api.req('PUT', `/api/v1/blobs/${sha256(data)}`, data, type ? { 'content-type': type } : {});
      assert.equal(r.status, 201, type);
    }
    const r = await s.api.req('GET', '/api/v1/viewer', undefined, { 'content-type': 'application/json' });
    assert.equal(r.status, 200);
    const proto = await s.api.req('POST', '/api/v1/blobs/negotiate', '{"blobs":[],"__proto__":{"x":1}}', { 'content-type': 'application/json' });
    assert.equal(proto.status, 400);
  });

  it('streams server-sent events for new versions and alias moves; closing the server ends open streams', async () => {
    const res = await fetch(`${s.server.url}/api/v1/events`, { headers: { authorization: `Bearer ${s.server.apiKey}` } });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await s.api.logVersion(P, 'announced', 'dataset', { 'a.txt': 'sse' }, { aliases: ['fresh'] });
    let text = '';
    const deadline = Date.now() + 5000;
    while (!(text.includes('"alias":"fresh"') && text.includes('version.created')) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const events = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
    const created = events.find((ev) => ev.type === 'version.created');
    assert.equal(created.version.name, 'announced');
    assert.ok(events.some((ev) => ev.type === 'alias.moved' && ev.alias === 'latest' && ev.version === 'v0' && ev.previous === null));
    // Left open on purpose: after() must still close the server promptly.
  });

  it('serves an OpenAPI document listing the routes', async () => {
    const doc = (await s.api.get('/api/v1/openapi.json')).body;
    assert.equal(doc.openapi, '3.1.0');
    for (const p of ['/api/v1/resolve', '/api/v1/blobs/negotiate', '/api/v1/projects/{entity}/{project}/artifacts/{name}/versions']) assert.ok(doc.paths[p], p);
  });
});
