/** Bad input never reaches the database as a 500: each case answers 4xx with a message that says what to fix. */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { sha256, startTestServer, type Res, type TestServer } from '../integration/server-helpers.js';

/** Sends a raw path (already percent-encoded as given) with the API key. */
function rawGet(ts: TestServer, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const u = new URL(ts.server.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET', headers: { authorization: `Bearer ${ts.server.apiKey}`, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function assertClear4xx(r: { status: number; body: unknown }, what: string, status?: number): string {
  assert.ok(r.status >= 400 && r.status < 500, `${what}: expected 4xx, got ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  if (status) assert.equal(r.status, status, what);
  const body = typeof r.body === 'string' ? JSON.parse(r.body) : r.body;
  assert.equal(typeof body.error.message, 'string', `${what}: ErrorBody`);
  assert.ok(body.error.message.length > 20, `${what}: a message that explains`);
  return body.error.message as string;
}

describe('security: bad input gets a 4xx with a clear message, never a 500', function () {
  this.timeout(60_000);
  let ts: TestServer;
  let e: string;
  const blob = Buffer.from('0123456789');
  before(async () => {
    ts = await startTestServer();
    e = await ts.api.entity();
    const r = await ts.api.logVersion('bad', 'data', 'dataset', { 'a.txt': blob });
    assert.equal(r.status, 201);
  });
  after(() => ts.stop());

  it('refuses a manifest listing one digest with two sizes (it could never be served)', async () => {
    const d = sha256(blob);
    const r: Res = await ts.api.post(`/api/v1/projects/${e}/bad/artifacts/twice/versions`, {
      type: 'dataset',
      manifest: { 'a.txt': { digest: d, size: 10 }, 'b.txt': { digest: d, size: 11 } },
    });
    const msg = assertClear4xx(r, 'same digest, two sizes', 400);
    assert.match(msg, /same digest .* different sizes/);
    const pend: Res = await ts.api.post(`/api/v1/projects/${e}/bad/artifacts/twice/pending/g1`, {
      type: 'dataset',
      manifest: { 'a.txt': { digest: d, size: 11 }, 'b.txt': { digest: d, size: 10 } },
    });
    assertClear4xx(pend, 'same digest, two sizes (distributed)', 400);
    assert.equal((await ts.api.get(`/api/v1/projects/${e}/bad/artifacts/twice`)).status, 404, 'nothing was created');
  });

  it('answers version numbers beyond any stored one with 404', async () => {
    for (const sel of ['v2147483648', 'v999999999999999999999']) {
      for (const suffix of ['', '/manifest', '/consumers']) {
        const r = await ts.api.get(`/api/v1/projects/${e}/bad/artifacts/data/versions/${sel}${suffix}`);
        assert.match(assertClear4xx(r, `${sel}${suffix}`, 404), /has no version/);
      }
    }
    const res = await ts.api.get(`/api/v1/resolve?ref=${encodeURIComponent('bad/data:v999999999999999999999')}`);
    assertClear4xx(res, 'resolve huge vN', 404);
    const del = await ts.api.del(`/api/v1/projects/${e}/bad/artifacts/data/versions/v2147483648`);
    assertClear4xx(del, 'delete huge vN', 404);
  });

  it('refuses NUL in a selector, entity, name, lineage node, query or JSON body', async () => {
    const paths = [
      `/api/v1/projects/${e}/bad/artifacts/data/versions/lat%00est`,
      `/api/v1/projects/${e}%00/bad/artifacts/data/versions/latest`,
      `/api/v1/projects/${e}/bad/artifacts/da%00ta`,
      `/api/v1/projects/${e}/bad/lineage?node=artifact%3A1%00`,
      `/api/v1/projects/${e}/bad/artifacts?type=data%00set`,
      `/api/v1/projects/${e}/bad/runs?jobType=x%00`,
      `/api/v1/resolve?ref=bad%2Fdata%3Alatest%00`,
    ];
    for (const p of paths) assert.match(assertClear4xx(await rawGet(ts, p), p, 400), /NUL/);
    const bodies: [string, unknown][] = [
      [`/api/v1/projects/${e}/bad/runs`, { name: 'a\u0000b' }],
      [`/api/v1/projects/${e}/bad/runs`, { config: { 'k\u0000': 1 } }],
      [`/api/v1/projects/${e}/bad/runs`, { config: { lone: '\ud800' } }],
    ];
    for (const [p, b] of bodies) assertClear4xx(await ts.api.post(p, b), `body ${JSON.stringify(b)}`, 400);
    const patch = await ts.api.patch(`/api/v1/projects/${e}/bad/artifacts/data/versions/v0`, { metadata: { x: 'a\u0000' } });
    assertClear4xx(patch, 'metadata with NUL', 400);
  });

  it('answers an unsatisfiable Range with 416, Content-Range and an ErrorBody', async () => {
    for (const range of ['bytes=5-2', 'bytes=-0', 'bytes=10-', 'bytes=99999999999999999999-']) {
      const r = await rawGet(ts, `/api/v1/blobs/${sha256(blob)}`, { range });
      assert.equal(r.status, 416, `${range}: ${r.body}`);
      assert.equal(r.headers['content-range'], 'bytes */10');
      assert.match(assertClear4xx(r, range), /bytes=START-END/);
    }
    const ok = await rawGet(ts, `/api/v1/blobs/${sha256(blob)}`, { range: 'bytes=2-4' });
    assert.equal(ok.status, 206);
    assert.equal(ok.body, '234');
  });

  it('refuses cursors that decode to values this server never hands out', async () => {
    const forged = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const lists = [`/api/v1/projects/${e}/bad/artifacts/data/versions`, `/api/v1/projects/${e}/bad/artifacts`, `/api/v1/projects/${e}/bad/runs`];
    for (const list of lists) {
      for (const c of [forged(1e300), forged(2147483648), forged(-1), forged('x'.repeat(300)), forged(JSON.stringify(['not a date', 'abc'])), forged([1, 2]), 'garbage!!']) {
        const r = await ts.api.get(`${list}?cursor=${encodeURIComponent(c)}`);
        assert.match(assertClear4xx(r, `${list} cursor ${c}`, 400), /cursor/);
      }
    }
  });

  it('refuses JSON nested 5,000 deep with a 400 that names the limit', async () => {
    const deep = '{"metadata":' + '{"a":'.repeat(5000) + '1' + '}'.repeat(5000) + '}';
    const r = await ts.api.req('PATCH', `/api/v1/projects/${e}/bad/artifacts/data/versions/v0`, deep, { 'content-type': 'application/json' });
    assert.match(assertClear4xx(r, 'deep JSON', 400), /nests 5001 levels deep; at most 100/);
    const arrays = '{"config":{"x":' + '['.repeat(5000) + ']'.repeat(5000) + '}}';
    const r2 = await ts.api.req('POST', `/api/v1/projects/${e}/bad/runs`, arrays, { 'content-type': 'application/json' });
    assertClear4xx(r2, 'deep arrays', 400);
    const fine = await ts.api.patch(`/api/v1/projects/${e}/bad/artifacts/data/versions/v0`, { metadata: { a: { b: { c: ['[{', '}]'] } } } });
    assert.equal(fine.status, 200, 'brackets inside strings do not count as nesting');
  });
});
