/**
 * Registry members and roles (W&B's Registry members) on a team server: who may see a restricted
 * registry, what each registry role may do, team members, the audit trail; the TS SDK's Registry
 * members API and `amphora registry members|add-member|remove-member` (dist/cli.mjs). Embedded mode:
 * the single owner is the only member.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { Api as Sdk } from '../../src/client/api.js';
import { Client } from '../../src/client/client.js';
import * as api from '../../src/core/api.js';
import { roleFor } from '../../src/extension/logic/access.js';
import { EMBEDDED_ONLY, sha256, startTestServer, TEAM_DB, type Api } from './server-helpers.js';
import { createUser, ok, startTeamServer } from './team-helpers.js';

const execFileP = promisify(execFile);
const TEAM = 'vision';
const REG = `/api/v1/projects/${TEAM}/wandb-registry-secret`;
const BYTES = Buffer.from('registry member bytes');

describe('team mode: registry members, registry roles and restricted visibility', function () {
  this.timeout(300_000);
  let s: Awaited<ReturnType<typeof startTeamServer>>;
  const u = {} as Record<'alice' | 'bob' | 'carol' | 'dave', Api>;
  const sdkFor = async (key: string) => new Sdk({ client: await Client.connect({ baseUrl: s.server.url, apiKey: key, env: {} }) });
  const cli = async (args: string[], key: string) => {
    try {
      const r = await execFileP(process.execPath, ['dist/cli.mjs', ...args], { env: { PATH: process.env.PATH, HOME: '/nonexistent', AMPHORA_BASE_URL: s.server.url, AMPHORA_API_KEY: key } });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, stdout: x.stdout, stderr: x.stderr };
    }
  };

  before(async () => {
    execFileSync(process.execPath, ['esbuild.mjs'], { stdio: 'ignore' });
    s = await startTeamServer();
    await ok(s.admin.post('/api/v1/teams', { name: TEAM }));
    await ok(s.admin.post('/api/v1/teams', { name: 'reviewers' }));
    for (const name of ['alice', 'bob', 'carol', 'dave'] as const) u[name] = await createUser(s.admin, name);
    await ok(s.admin.post(`/api/v1/teams/${TEAM}/members`, { user: 'alice', role: 'admin' }));
    await ok(s.admin.post(`/api/v1/teams/${TEAM}/members`, { user: 'bob', role: 'viewer' }));
    await ok(s.admin.post('/api/v1/teams/reviewers/members', { user: 'dave', role: 'viewer' }));
    // A version bob may read, to link into the registry.
    await ok(u.alice.putBlob(BYTES));
    await ok(u.alice.post(`/api/v1/projects/${TEAM}/models/artifacts/net/versions`, { type: 'model', manifest: { 'w.bin': { digest: sha256(BYTES), size: BYTES.length } } }));
    await ok(u.alice.req('PUT', `${REG}/registry`, { visibility: 'restricted' }));
    await ok(u.alice.req('PUT', `/api/v1/projects/${TEAM}/wandb-registry-open/registry`, { visibility: 'organization' }));
  });
  after(async () => s?.stop());

  const link = (a: Api) => a.post(`${REG}/artifacts/classifier/links`, { source: { entity: TEAM, project: 'models', name: 'net', version: 'v0' } });
  const listed = async (a: Api) => ((await ok(a.get('/api/v1/registries'))).items as { name: string }[]).map((r) => r.name).sort();

  it('restricted: an entity viewer who is no member gets 404 and does not see it listed; organization: the entity role reaches it', async () => {
    assert.equal((await u.bob.get(`${REG}/registry`)).status, 404);
    assert.deepEqual(await listed(u.bob), ['open']);
    assert.equal((await u.bob.get(`/api/v1/projects/${TEAM}/wandb-registry-open/registry`)).status, 200);
    // The entity's admin keeps access (they administer it), as W&B's org admins do.
    assert.deepEqual(await listed(u.alice), ['open', 'secret']);
    assert.equal((await u.carol.get(`${REG}/registry`)).status, 404);
    // The viewer route names the restricted registry, so the extension offers bob nothing there.
    const bobViewer = api.Viewer.parse(await ok(u.bob.get('/api/v1/viewer')));
    assert.deepEqual(bobViewer.restricted, [`${TEAM}/wandb-registry-secret`]);
    assert.equal(roleFor(bobViewer, TEAM, 'wandb-registry-secret'), null);
    assert.equal(roleFor(bobViewer, TEAM, 'wandb-registry-open'), 'viewer');
  });

  it('a user member gets exactly their registry role: viewer reads, member links, admin manages members', async () => {
    const reg = await (await sdkFor(u.alice.key)).registry('secret', { organization: TEAM });
    assert.deepEqual(await reg.members(), []);
    assert.deepEqual(await reg.addMembers(['bob']), [{ kind: 'user', name: 'bob', role: 'viewer' }]);
    assert.equal((await u.bob.get(`${REG}/registry`)).status, 200);
    assert.deepEqual(await listed(u.bob), ['open', 'secret']);
    assert.equal((await link(u.bob)).status, 403, 'a registry viewer may not link');
    assert.deepEqual(await reg.updateMember('bob', 'member'), { kind: 'user', name: 'bob', role: 'member' });
    assert.equal((await link(u.bob)).status, 201);
    assert.equal((await u.bob.post(`${REG}/registry/members`, { members: [{ kind: 'user', name: 'carol' }] })).status, 403, 'a member may not add members');
    // Adding again keeps the role; unknown users and teams are named.
    assert.deepEqual(await reg.addMembers([{ kind: 'user', name: 'bob' }]), [{ kind: 'user', name: 'bob', role: 'member' }]);
    await assert.rejects(reg.addMembers(['nobody']), /no user "nobody"/);
    await assert.rejects(reg.addMembers([{ kind: 'team', name: 'alice' }]), /no team "alice" \(that name is a user/);
    await assert.rejects(reg.updateMember('carol', 'admin'), /carol is not a member of vision\/wandb-registry-secret/);
  });

  it('a team member gives every member of that team the role; removing a member hides the registry again at once', async () => {
    const reg = await (await sdkFor(u.alice.key)).registry('secret', { organization: TEAM });
    assert.equal((await u.dave.get(`${REG}/registry`)).status, 404);
    await reg.addMembers([{ kind: 'team', name: 'reviewers' }], { role: 'viewer' });
    assert.equal((await u.dave.get(`${REG}/registry`)).status, 200, 'dave is in team reviewers');
    assert.equal((await link(u.dave)).status, 403);
    assert.deepEqual((await reg.teamMembers()).map((m) => `${m.name}:${m.role}`), ['reviewers:viewer']);
    assert.deepEqual((await reg.userMembers()).map((m) => `${m.name}:${m.role}`), ['bob:member']);
    // dave reads the linked bytes through the registry (blob read rights follow the registry role).
    const digest = sha256(BYTES);
    assert.equal((await u.dave.get(`/api/v1/blobs/${digest}`)).status, 200);
    await reg.removeMembers([{ kind: 'team', name: 'reviewers' }, 'bob']);
    assert.equal((await u.dave.get(`${REG}/registry`)).status, 404);
    assert.equal((await u.dave.get(`/api/v1/blobs/${digest}`)).status, 404, 'no longer readable');
    assert.equal((await u.bob.get(`${REG}/registry`)).status, 404);
    assert.deepEqual(await reg.members(), []);
  });

  it('member changes are in the registry project\'s audit trail (who gave which role to whom)', async () => {
    // Rows of the team's own grants (entity-wide) are there too; these are the registry's.
    const trail = (await ok(u.alice.get(`${REG}/audit?limit=100`))).items as { actor: string; action: string; target: string; detail: Record<string, unknown> }[];
    const lines = trail
      .filter((i) => i.action.startsWith('grant.') && i.detail.registryRole)
      .map((i) => `${i.actor} ${i.action} ${i.target} ${String(i.detail.registryRole)}${i.detail.previousRole ? ` was ${String(i.detail.previousRole)}` : ''}`)
      .reverse();
    assert.deepEqual(lines, [
      'alice grant.add bob viewer',
      'alice grant.add bob member was viewer',
      'alice grant.add team:reviewers viewer',
      'alice grant.remove team:reviewers viewer',
      'alice grant.remove bob member',
    ]);
  });

  it('amphora registry members | add-member | remove-member', async () => {
    const added = await cli(['registry', 'add-member', `${TEAM}/secret`, 'carol', '--role', 'admin'], u.alice.key);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /carol is now admin of registry vision\/secret/);
    // An admin member may manage members; a second add with another --role changes it.
    const team = await cli(['--json', 'registry', 'add-member', `${TEAM}/wandb-registry-secret`, 'reviewers', '--team'], u.carol.key);
    assert.deepEqual(JSON.parse(team.stdout), { kind: 'team', name: 'reviewers', role: 'viewer' });
    assert.equal((await cli(['registry', 'add-member', `${TEAM}/secret`, 'reviewers', '--team', '--role', 'member'], u.carol.key)).code, 0);
    const ls = await cli(['registry', 'members', `${TEAM}/secret`], u.carol.key);
    assert.match(ls.stdout, /KIND\s+NAME\s+ROLE\s+user\s+carol\s+admin\s+team\s+reviewers\s+member/);
    const removed = await cli(['registry', 'remove-member', `${TEAM}/secret`, 'reviewers', '--team'], u.carol.key);
    assert.match(removed.stdout, /Team reviewers is no longer member of registry vision\/secret/);
    const badRole = await cli(['registry', 'add-member', `${TEAM}/secret`, 'bob', '--role', 'owner'], u.alice.key);
    assert.equal(badRole.code, 5);
    assert.match(badRole.stderr, /Unknown registry role "owner"; use one of viewer, member, admin/);
    assert.equal((await cli(['registry', 'members', `${TEAM}/secret`], u.bob.key)).code, 3, 'hidden from a non-member');
  });

  it('switching to organization visibility lets the entity roles in again', async () => {
    const reg = await (await sdkFor(u.alice.key)).registry('secret', { organization: TEAM });
    reg.visibility = 'organization';
    await reg.save();
    assert.equal((await u.bob.get(`${REG}/registry`)).status, 200);
  });
});

describe('embedded mode: the single owner is the only registry member', function () {
  this.timeout(120_000);
  // The team suite's test servers are team servers (PostgreSQL): there is no single owner there.
  if (TEAM_DB) return void it.skip(EMBEDDED_ONLY);
  it('members lists the owner as admin; adding anyone says there is one user', async () => {
    const s = await startTestServer();
    try {
      const sdk = new Sdk({ client: await Client.connect({ baseUrl: s.server.url, apiKey: s.server.apiKey, env: {} }) });
      const reg = await sdk.createRegistry('solo', { visibility: 'restricted' });
      const members = await reg.members();
      assert.equal(members.length, 1);
      assert.equal(members[0].role, 'admin');
      assert.equal(members[0].name, reg.entity);
      await assert.rejects(reg.addMembers(['someone']), /embedded mode: its one owner is the only member/);
    } finally {
      await s.stop();
    }
  });
});
