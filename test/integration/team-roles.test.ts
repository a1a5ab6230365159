/**
 * Team mode: every route × every kind of caller → the expected status. The route list comes from
 * the server itself (its OpenAPI document plus the access table it refuses to start without),
 * so a route added without a case here fails this test.
 */
import assert from 'node:assert/strict';
import { artifactDigest } from '../../src/core/node/manifest.js';
import { ROUTE_ACCESS } from '../../src/server/auth/routeAccess.js';
import { Api, sha256, type Res } from './server-helpers.js';
import { createUser, ok, startTeamServer } from './team-helpers.js';
import { waitFor } from '../support/waitFor.js';

type Caller = 'noKey' | 'revoked' | 'expired' | 'otherTeam' | 'viewer' | 'editor' | 'admin' | 'siteAdmin';
const CALLERS: Caller[] = ['noKey', 'revoked', 'expired', 'otherTeam', 'viewer', 'editor', 'admin', 'siteAdmin'];

/**
 * What a route needs: `public`/`user`/`siteAdmin`, a project role, `readable` (a blob or a
 * reference of the team's project: like viewer) or `entityAdmin` (grants on the team).
 */
type Need = 'public' | 'user' | 'siteAdmin' | 'viewer' | 'editor' | 'admin' | 'readable' | 'entityAdmin';

const TEAM = 'alphateam';
const PROJ = 'alpha-secret-proj';
const BASE = `/api/v1/projects/${TEAM}/${PROJ}`;
const SEED = Buffer.from('alpha secret bytes');
const SEED_DIGEST = sha256(SEED);
const MANIFEST = { 'secret.txt': { digest: SEED_DIGEST, size: SEED.length } };

interface Case {
  need: Need;
  ok: number[];
  /** Builds the request for one caller (may create what it needs first, as site admin). */
  request: (caller: Caller, api: Api) => Promise<Res>;
}

function expected(need: Need, caller: Caller, okStatus: number[]): number[] {
  if (need === 'public') return okStatus;
  if (caller === 'noKey' || caller === 'revoked' || caller === 'expired') return [401];
  if (caller === 'siteAdmin' || need === 'user') return okStatus;
  if (need === 'siteAdmin') return [403];
  if (caller === 'otherTeam') return [404];
  const rank = { viewer: 1, editor: 2, admin: 3 } as const;
  const wanted = need === 'readable' ? 'viewer' : need === 'entityAdmin' ? 'admin' : need;
  return rank[caller] >= rank[wanted] ? okStatus : [403];
}

describe('team mode: role matrix over every route', function () {
  this.timeout(300_000);
  let s: Awaited<ReturnType<typeof startTeamServer>>;
  const apis = {} as Record<Caller, Api>;
  let unique = 0;
  const next = () => `${Date.now().toString(36)}${unique++}`;

  before(async () => {
    s = await startTeamServer();
    const admin = s.admin;
    await ok(admin.post('/api/v1/teams', { name: TEAM }));
    await ok(admin.post('/api/v1/teams', { name: 'betateam' }));
    const users: Record<string, Api> = {};
    // member1 and gammateam are only ever registry members (so no caller's access changes).
    for (const name of ['viewer1', 'editor1', 'admin1', 'outsider1', 'gone1', 'member1']) users[name] = await createUser(admin, name);
    await ok(admin.post('/api/v1/teams', { name: 'gammateam' }));
    for (const [user, role] of [['viewer1', 'viewer'], ['editor1', 'editor'], ['admin1', 'admin']] as const) {
      await ok(admin.post(`/api/v1/teams/${TEAM}/members`, { user, role }));
    }
    await ok(admin.post('/api/v1/teams/betateam/members', { user: 'outsider1', role: 'editor' }));
    await ok(admin.post(`/api/v1/teams/${TEAM}/members`, { user: 'gone1', role: 'admin' }));
    // gone1's key is revoked; editor1 also holds a key that expires in a second.
    const goneKeys = await ok(users.gone1.get('/api/v1/keys'));
    await ok(users.gone1.del(`/api/v1/keys/${goneKeys.items[0].id}`));
    const short = await ok(users.editor1.post('/api/v1/keys', { label: 'short', expiresInSeconds: 1 }));
    Object.assign(apis, {
      noKey: new Api(s.server.url, ''),
      revoked: users.gone1,
      expired: new Api(s.server.url, short.apiKey),
      otherTeam: users.outsider1,
      viewer: users.viewer1,
      editor: users.editor1,
      admin: users.admin1,
      siteAdmin: admin,
    });
    // Seed: a version with an alias, a run that logged it and used it, a saved run file.
    await ok(admin.putBlob(SEED));
    const run = await ok(admin.post(`${BASE}/runs`, { id: 'seedrun', jobType: 'load' }));
    assert.equal(run.id, 'seedrun');
    await ok(admin.post(`${BASE}/artifacts/alpha-secret-data/versions`, { type: 'dataset', manifest: MANIFEST, aliases: ['best'], runId: 'seedrun' }));
    await ok(admin.post(`${BASE}/runs/seedrun/inputs`, { ref: 'alpha-secret-data:v0' }));
    // Organization visibility: the team's roles reach it (restricted ones are tested in team-registry-members).
    await ok(admin.req('PUT', `/api/v1/projects/${TEAM}/wandb-registry-alpha/registry`, { visibility: 'organization' }));
    await waitFor("editor1's one-second key to expire", async () => (await apis.expired.get('/api/v1/viewer')).status === 401, 10_000, 100);
  });
  after(async () => s?.stop());

  /** A version only this call deletes. */
  async function freshVersion(): Promise<string> {
    const body = Buffer.from(`to delete ${next()}`);
    await ok(s.admin.putBlob(body));
    const r = await ok(s.admin.post(`${BASE}/artifacts/doomed/versions`, { type: 'dataset', manifest: { 'x.txt': { digest: sha256(body), size: body.length } } }));
    return r.version.version as string;
  }

  const cases: Record<string, Case> = {
    'GET /api/v1/health': { need: 'public', ok: [200], request: (_c, a) => a.get('/api/v1/health') },
    'GET /api/v1/openapi.json': { need: 'user', ok: [200], request: (_c, a) => a.get('/api/v1/openapi.json') },
    'GET /api/v1/viewer': { need: 'user', ok: [200], request: (_c, a) => a.get('/api/v1/viewer') },
    'GET /api/v1/events': {
      need: 'user',
      ok: [200],
      request: async (_c, a) => {
        const ac = new AbortController();
        const r = await fetch(`${a.url}/api/v1/events`, { headers: { authorization: `Bearer ${a.key}` }, signal: ac.signal });
        const status = r.status;
        ac.abort();
        await r.body?.cancel().catch(() => undefined);
        return { status, body: null, headers: r.headers };
      },
    },
    'GET /api/v1/resolve': { need: 'readable', ok: [200], request: (_c, a) => a.get(`/api/v1/resolve?ref=${TEAM}/${PROJ}/alpha-secret-data:best`) },
    'GET /api/v1/projects': { need: 'user', ok: [200], request: (_c, a) => a.get('/api/v1/projects') },
    'GET /api/v1/projects/:entity/:project/artifact-types': { need: 'viewer', ok: [200], request: (_c, a) => a.get(`${BASE}/artifact-types`) },
    'GET /api/v1/projects/:entity/:project/lineage': { need: 'viewer', ok: [200], request: (_c, a) => a.get(`${BASE}/lineage`) },
    'GET /api/v1/projects/:entity/:project/audit': { need: 'viewer', ok: [200], request: (_c, a) => a.get(`${BASE}/audit`) },
    'GET /api/v1/projects/:entity/:project/artifacts': { need: 'viewer', ok: [200], request: (_c, a) => a.get(`${BASE}/artifacts`) },
    'GET /api/v1/projects/:entity/:project/artifacts/:name': { need: 'viewer', ok: [200], request: (_c, a) => a.get(`${BASE}/artifacts/alpha-secret-data`) },
    'GET /api/v1/projects/:entity/:project/artifacts/:name/versions': { need: 'viewer', ok: [200], request: (_c, a) => a.get(`${BASE}/artifacts/alpha-secret-data/versions`) },
    'POST /api/v1/projects/:entity/:project/artifacts/:name/versions': {
      need: 'editor',
      ok: [200, 201],
      request: (_c, a) => a.post(`${BASE}/artifacts/alpha-secret-data/versions`, { type: 'dataset', manifest: MANIFEST }),
    },
    'POST /api/v1/projects/:entity/:project/artifacts/:name/relog': {
      need: 'editor',
      ok: [200],
      request: (_c, a) => a.post(`${BASE}/artifacts/alpha-secret-data/relog`, { type: 'dataset', digest: artifactDigest(MANIFEST) }),
    },
    'GET /api/v1/projects/:entity/:project/artifacts/:name/versions/:selector': { need: 'viewer', ok: [200], request: (_c, a) => a.get(`${BASE}/artifacts/alpha-secret-data/versions/v0`) },
    'GET /api/v1/projects/:entity/:project/artifacts/:name/versions/:selector/manifest': {
      need: 'viewer',
      ok: [200],
      request: (_c, a) => a.get(`${BASE}/artifacts/alpha-secret-data/versions/v0/manifest`),
    },
    'GET /api/v1/projects/:entity/:project/artifacts/:name/versions/:selector/consumers': {
      need: 'viewer',
      ok: [200],
      request: (_c, a) => a.get(`${BASE}/artifacts/alpha-secret-data/versions/v0/consumers`),
    },
    'PATCH /api/v1/projects/:entity/:project/artifacts/:name/versions/:selector': {
      need: 'editor',
      ok: [200],
      request: (c, a) => a.patch(`${BASE}/artifacts/alpha-secret-data/versions/v0`, { description: `edited by ${c}` }),
    },
    'DELETE /api/v1/projects/:entity/:project/artifacts/:name/versions/:selector': {
      need: 'admin',
      ok: [200],
      request: async (_c, a) => a.del(`${BASE}/artifacts/doomed/versions/${await freshVersion()}?deleteAliases=true`),
    },
    'POST /api/v1/projects/:entity/:project/artifacts/:name/pending/:distributedId': {
      need: 'editor',
      ok: [200],
      request: (_c, a) => a.post(`${BASE}/artifacts/spread/pending/group-${next()}`, { type: 'dataset', manifest: MANIFEST }),
    },
    'POST /api/v1/projects/:entity/:project/artifacts/:name/pending/:distributedId/finish': {
      need: 'editor',
      ok: [200, 201],
      request: async (_c, a) => {
        const id = `group-${next()}`;
        await ok(s.admin.post(`${BASE}/artifacts/spread/pending/${id}`, { type: 'dataset', manifest: MANIFEST }));
        return a.post(`${BASE}/artifacts/spread/pending/${id}/finish`, {});
      },
    },
    'GET /api/v1/registries': { need: 'user', ok: [200], request: (_c, a) => a.get('/api/v1/registries') },
    'GET /api/v1/projects/:entity/:project/registry': { need: 'viewer', ok: [200], request: (_c, a) => a.get(`/api/v1/projects/${TEAM}/wandb-registry-alpha/registry`) },
    'PUT /api/v1/projects/:entity/:project/registry': {
      need: 'editor',
      ok: [201],
      request: (_c, a) => a.req('PUT', `/api/v1/projects/${TEAM}/wandb-registry-r${next()}/registry`, { visibility: 'organization' }),
    },
    'PATCH /api/v1/projects/:entity/:project/registry': {
      need: 'admin',
      ok: [200],
      request: (c, a) => a.patch(`/api/v1/projects/${TEAM}/wandb-registry-alpha/registry`, { description: `edited by ${c}` }),
    },
    'DELETE /api/v1/projects/:entity/:project/registry': {
      need: 'admin',
      ok: [200],
      request: async (_c, a) => {
        const project = `wandb-registry-gone${next()}`;
        await ok(s.admin.req('PUT', `/api/v1/projects/${TEAM}/${project}/registry`, { visibility: 'organization' }));
        return a.del(`/api/v1/projects/${TEAM}/${project}/registry`);
      },
    },
    'GET /api/v1/projects/:entity/:project/registry/members': { need: 'viewer', ok: [200], request: (_c, a) => a.get(`/api/v1/projects/${TEAM}/wandb-registry-alpha/registry/members`) },
    'POST /api/v1/projects/:entity/:project/registry/members': {
      need: 'admin',
      ok: [200],
      request: (_c, a) => a.post(`/api/v1/projects/${TEAM}/wandb-registry-alpha/registry/members`, { members: [{ kind: 'team', name: 'gammateam' }] }),
    },
    'PATCH /api/v1/projects/:entity/:project/registry/members/:kind/:name': {
      need: 'admin',
      ok: [200],
      request: async (c, a) => {
        await ok(s.admin.post(`/api/v1/projects/${TEAM}/wandb-registry-alpha/registry/members`, { members: [{ kind: 'user', name: 'member1' }] }));
        return a.patch(`/api/v1/projects/${TEAM}/wandb-registry-alpha/registry/members/user/member1`, { role: c === 'admin' ? 'member' : 'viewer' });
      },
    },
    'DELETE /api/v1/projects/:entity/:project/registry/members/:kind/:name': {
      need: 'admin',
      ok: [200],
      request: async (_c, a) => {
        await ok(s.admin.post(`/api/v1/projects/${TEAM}/wandb-registry-alpha/registry/members`, { members: [{ kind: 'user', name: 'member1' }] }));
        return a.del(`/api/v1/projects/${TEAM}/wandb-registry-alpha/registry/members/user/member1`);
      },
    },
    'POST /api/v1/projects/:entity/:project/artifacts/:name/links': {
      need: 'editor',
      ok: [200, 201],
      request: (_c, a) =>
        a.post(`/api/v1/projects/${TEAM}/wandb-registry-alpha/artifacts/secret-models/links`, { source: { entity: TEAM, project: PROJ, name: 'alpha-secret-data', version: 'v0' } }),
    },
    'POST /api/v1/projects/:entity/:project/runs': { need: 'editor', ok: [201], request: (_c, a) => a.post(`${BASE}/runs`, { jobType: 'train' }) },
    'GET /api/v1/projects/:entity/:project/runs': { need: 'viewer', ok: [200], request: (_c, a) => a.get(`${BASE}/runs`) },
    'GET /api/v1/projects/:entity/:project/runs/:runId': { need: 'viewer', ok: [200], request: (_c, a) => a.get(`${BASE}/runs/seedrun`) },
    'PATCH /api/v1/projects/:entity/:project/runs/:runId': { need: 'editor', ok: [200], request: (_c, a) => a.patch(`${BASE}/runs/seedrun`, { summary: { acc: 0.9 } }) },
    'POST /api/v1/projects/:entity/:project/runs/:runId/heartbeat': { need: 'editor', ok: [200], request: (_c, a) => a.post(`${BASE}/runs/seedrun/heartbeat`) },
    'POST /api/v1/projects/:entity/:project/runs/:runId/history': {
      need: 'editor',
      ok: [200],
      request: (_c, a) => a.post(`${BASE}/runs/seedrun/history`, { rows: [{ step: 1, data: { loss: 0.5 } }] }),
    },
    'GET /api/v1/projects/:entity/:project/runs/:runId/history': { need: 'viewer', ok: [200], request: (_c, a) => a.get(`${BASE}/runs/seedrun/history`) },
    'GET /api/v1/projects/:entity/:project/runs/:runId/metrics': { need: 'viewer', ok: [200], request: (_c, a) => a.get(`${BASE}/runs/seedrun/metrics?keys=loss`) },
    'PUT /api/v1/projects/:entity/:project/runs/:runId/files': {
      need: 'editor',
      ok: [200],
      request: (_c, a) => a.req('PUT', `${BASE}/runs/seedrun/files`, { files: [{ path: 'out/secret.txt', digest: SEED_DIGEST, size: SEED.length }] }),
    },
    'GET /api/v1/projects/:entity/:project/runs/:runId/files': { need: 'viewer', ok: [200], request: (_c, a) => a.get(`${BASE}/runs/seedrun/files`) },
    'POST /api/v1/projects/:entity/:project/runs/:runId/inputs': { need: 'editor', ok: [200], request: (_c, a) => a.post(`${BASE}/runs/seedrun/inputs`, { ref: 'alpha-secret-data:v0' }) },
    'GET /api/v1/projects/:entity/:project/runs/:runId/inputs': { need: 'viewer', ok: [200], request: (_c, a) => a.get(`${BASE}/runs/seedrun/inputs`) },
    'GET /api/v1/projects/:entity/:project/runs/:runId/outputs': { need: 'viewer', ok: [200], request: (_c, a) => a.get(`${BASE}/runs/seedrun/outputs`) },
    'POST /api/v1/blobs/negotiate': { need: 'user', ok: [200], request: (_c, a) => a.post('/api/v1/blobs/negotiate', { blobs: [{ digest: SEED_DIGEST, size: SEED.length }] }) },
    // Any key gets past access (the handler then refuses the token: 400; team-s3-confirm.test.ts uploads for real).
    'POST /api/v1/blobs/confirm': {
      need: 'user',
      ok: [400],
      request: (_c, a) => a.post('/api/v1/blobs/confirm', { blobs: [{ digest: SEED_DIGEST, size: SEED.length, confirm: 'not-a-token' }] }),
    },
    'PUT /api/v1/blobs/:digest': { need: 'user', ok: [200, 201], request: (c, a) => a.putBlob(`uploaded by ${c}`) },
    'POST /api/v1/blobs/batch': {
      need: 'user',
      ok: [200],
      request: (c, a) => {
        const b = Buffer.from(`batch by ${c}`);
        return a.req('POST', '/api/v1/blobs/batch', Buffer.concat([Buffer.from(JSON.stringify({ blobs: [{ digest: sha256(b), size: b.length }] }) + '\n'), b]), {
          'content-type': 'application/octet-stream',
        });
      },
    },
    'POST /api/v1/blobs/batch-get': { need: 'readable', ok: [200], request: (_c, a) => a.post('/api/v1/blobs/batch-get', { digests: [SEED_DIGEST] }) },
    'POST /api/v1/blobs/flush': { need: 'user', ok: [200], request: (_c, a) => a.post('/api/v1/blobs/flush') },
    'GET /api/v1/blobs/:digest': { need: 'readable', ok: [200], request: (_c, a) => a.get(`/api/v1/blobs/${SEED_DIGEST}`) },
    'POST /api/v1/admin/gc': { need: 'siteAdmin', ok: [200], request: (_c, a) => a.post('/api/v1/admin/gc', { dryRun: true }) },
    'GET /api/v1/users': { need: 'siteAdmin', ok: [200], request: (_c, a) => a.get('/api/v1/users') },
    'POST /api/v1/users': { need: 'siteAdmin', ok: [201], request: (_c, a) => a.post('/api/v1/users', { name: `u${next()}` }) },
    'POST /api/v1/grants': { need: 'entityAdmin', ok: [200], request: (_c, a) => a.post('/api/v1/grants', { user: 'viewer1', entity: TEAM, project: PROJ, role: 'viewer' }) },
    'DELETE /api/v1/grants': {
      need: 'entityAdmin',
      ok: [200],
      request: async (_c, a) => {
        // A grant only this call removes.
        const project = `g${next()}`;
        await ok(s.admin.post('/api/v1/grants', { user: 'viewer1', entity: TEAM, project, role: 'editor' }));
        return a.del(`/api/v1/grants?user=viewer1&entity=${TEAM}&project=${project}`);
      },
    },
    'POST /api/v1/teams': { need: 'siteAdmin', ok: [201], request: (_c, a) => a.post('/api/v1/teams', { name: `t${next()}` }) },
    'POST /api/v1/teams/:team/members': { need: 'entityAdmin', ok: [200], request: (_c, a) => a.post(`/api/v1/teams/${TEAM}/members`, { user: 'viewer1', role: 'viewer' }) },
    'GET /api/v1/keys': { need: 'user', ok: [200], request: (_c, a) => a.get('/api/v1/keys') },
    'POST /api/v1/keys': { need: 'user', ok: [201], request: (_c, a) => a.post('/api/v1/keys', { label: 'matrix' }) },
    'DELETE /api/v1/keys/:keyId': {
      need: 'user',
      ok: [200],
      request: async (c, a) => {
        // Each caller revokes a key of their own (callers without a working key: one of admin's).
        const owner = ['noKey', 'revoked', 'expired'].includes(c) ? s.admin : a;
        const k = await ok(owner.post('/api/v1/keys', { label: 'to revoke' }));
        return a.del(`/api/v1/keys/${k.key.id}`);
      },
    },
  };

  it('has a case for every route the server serves, consistent with its access table', async () => {
    const doc = (await s.admin.get('/api/v1/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const served = new Set(Object.keys(ROUTE_ACCESS));
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const m of Object.keys(methods)) served.add(`${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`);
    }
    for (const route of served) {
      assert.ok(cases[route], `route ${route} has no case in the role matrix: add one (and an access rule)`);
      const rule = ROUTE_ACCESS[route];
      assert.ok(rule, `route ${route} is served but has no access rule`);
      const need = cases[route].need;
      if (typeof rule === 'object') assert.equal(need, rule.project, `${route}: the server requires ${rule.project}`);
      else if (rule === 'user') assert.ok(['user', 'readable', 'entityAdmin'].includes(need), `${route}: the server lets any key in, checks in the handler`);
      else assert.equal(need, rule, route);
    }
    for (const route of Object.keys(cases)) assert.ok(served.has(route), `matrix case ${route} names no route`);
  });

  for (const caller of CALLERS) {
    it(`every route answers ${caller} as its rule says`, async () => {
      const failures: string[] = [];
      for (const [route, c] of Object.entries(cases)) {
        const want = expected(c.need, caller, c.ok);
        const r = await c.request(caller, apis[caller]);
        if (!want.includes(r.status)) failures.push(`${route}: ${r.status} (want ${want.join('/')}) ${JSON.stringify(r.body).slice(0, 160)}`);
        else if (r.status === 401 && r.body !== null) assert.equal(r.body.error.code, 'unauthorized', route);
      }
      assert.deepEqual(failures, [], failures.join('\n'));
    });
  }

  it('says why a revoked or expired key is refused, and what to do', async () => {
    const revoked = await apis.revoked.get('/api/v1/viewer');
    assert.equal(revoked.status, 401);
    assert.match(revoked.body.error.message, /revoked on .*amphora key create/);
    const expired = await apis.expired.get('/api/v1/viewer');
    assert.match(expired.body.error.message, /expired on .*amphora key create/);
    const wrong = await new Api(s.server.url, 'amp_not-a-key-at-all').get('/api/v1/viewer');
    assert.match(wrong.body.error.message, /Unknown API key.*amphora user create/);
  });

  it('a 403 names the caller\'s role and the role needed; a 404 for a hidden project names nothing', async () => {
    const r = await apis.viewer.del(`${BASE}/artifacts/alpha-secret-data/versions/v0`);
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'forbidden');
    assert.match(r.body.error.message, /role on alphateam\/alpha-secret-proj is viewer; deleting a version needs admin/);
    const hidden = await apis.otherTeam.get(`${BASE}/artifacts/alpha-secret-data/versions/v0`);
    const missing = await apis.otherTeam.get('/api/v1/projects/alphateam/no-such-project/artifacts');
    assert.equal(hidden.status, 404);
    assert.deepEqual(hidden.body, missing.body, 'a hidden project and a missing one look alike');
    assert.doesNotMatch(JSON.stringify(hidden.body), /alpha/);
  });
});
