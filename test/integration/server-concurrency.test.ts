import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './server-helpers.js';

describe('server: concurrent writers to one artifact name', function () {
  this.timeout(120_000);
  let s: TestServer;
  let e: string;

  before(async () => {
    s = await startTestServer();
    e = await s.api.entity();
  });
  after(async () => s?.stop());

  it('16 writers with different content get exactly v0…v15; latest is on the last commit', async () => {
    const commits = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const r = await s.api.logVersion('conc', 'shared', 'dataset', { 'data.txt': `writer ${i}`, [`only-${i}.txt`]: String(i) });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        return { at: process.hrtime.bigint(), version: r.body.version };
      }),
    );
    const numbers = commits.map((c) => c.version.index).sort((a, b) => a - b);
    assert.deepEqual(numbers, Array.from({ length: 16 }, (_, i) => i));
    assert.equal(new Set(commits.map((c) => c.version.digest)).size, 16);
    const latest = (await s.api.get(`/api/v1/projects/${e}/conc/artifacts/shared/versions/latest`)).body;
    assert.equal(latest.version, 'v15', 'the last commit (highest index) holds latest');
    const list = (await s.api.get(`/api/v1/projects/${e}/conc/artifacts/shared/versions`)).body.items;
    assert.equal(list.length, 16);
    assert.deepEqual(list.filter((v: { aliases: string[] }) => v.aliases.includes('latest')).length, 1);
  });

  it('16 writers with identical content get one version', async () => {
    const rs = await Promise.all(Array.from({ length: 16 }, () => s.api.logVersion('conc', 'same', 'dataset', { 'a.txt': 'identical', 'b/c.txt': 'too' })));
    assert.equal(rs.filter((r) => r.status === 201).length, 1);
    assert.equal(rs.filter((r) => r.status === 200 && r.body.created === false).length, 15);
    assert.equal(new Set(rs.map((r) => r.body.version.id)).size, 1);
    const list = (await s.api.get(`/api/v1/projects/${e}/conc/artifacts/same/versions`)).body.items;
    assert.deepEqual(list.map((v: { version: string; aliases: string[] }) => [v.version, v.aliases]), [['v0', ['latest']]]);
    assert.equal(list[0].digest, rs[0].body.version.digest);
  });
});
