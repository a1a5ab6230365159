/** `amphora user|key|team` and `serve --team` (dist/cli.mjs against a real team server on PGlite). */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RunningServer } from '../../src/server/index.js';
import { BOOTSTRAP_KEY } from './team-helpers.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe('amphora CLI: users, keys and teams on a team server', function () {
  this.timeout(180_000);
  let base: string;
  let server: RunningServer;
  let env: NodeJS.ProcessEnv;

  const cli = (args: string[], key = BOOTSTRAP_KEY): Promise<Result> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['dist/cli.mjs', ...args], { env: { ...env, AMPHORA_API_KEY: key }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  const lastLine = (text: string) => text.trim().split('\n').pop()!;

  before(async () => {
    execFileSync(process.execPath, ['esbuild.mjs'], { stdio: 'ignore' });
    base = await mkdtemp(path.join(tmpdir(), 'amphora-cli-team-'));
    const { startServer } = await import('../../src/server/index.js');
    server = await startServer({ dataDir: path.join(base, 'data'), port: 0, quiet: true, mode: 'team', bootstrapKey: BOOTSTRAP_KEY });
    env = { PATH: process.env.PATH, HOME: base, AMPHORA_BASE_URL: server.url, AMPHORA_CACHE_DIR: path.join(base, 'cache') };
    await mkdir(path.join(base, 'ds'), { recursive: true });
    await writeFile(path.join(base, 'ds', 'a.txt'), 'alpha');
  });
  after(async () => {
    await server?.close();
    await rm(base, { recursive: true, force: true });
  });

  let alice: string;
  let bob: string;

  it('user create prints the key on the last line (--json: {user, apiKey}); a duplicate name exits 5', async () => {
    const human = await cli(['user', 'create', 'alice']);
    assert.equal(human.code, 0, human.stderr);
    alice = lastLine(human.stdout);
    assert.match(alice, /^amp_[A-Za-z0-9_-]{43}$/);
    const json = await cli(['--json', 'user', 'create', 'bob']);
    const parsed = JSON.parse(json.stdout);
    assert.deepEqual(Object.keys(parsed).sort(), ['apiKey', 'user']);
    assert.equal(parsed.user, 'bob');
    bob = parsed.apiKey;
    const dup = await cli(['user', 'create', 'alice']);
    assert.equal(dup.code, 5);
    assert.match(dup.stderr, /name "alice" is taken by an existing user/);
    const notAdmin = await cli(['user', 'create', 'carol'], bob);
    assert.equal(notAdmin.code, 1);
    assert.match(notAdmin.stderr, /Only site admins/);
  });

  it('team create / team add / user grant set roles; an unknown role exits 5; user ls shows them', async () => {
    assert.equal((await cli(['team', 'create', 'vision'])).code, 0);
    const dupTeam = await cli(['team', 'create', 'vision']);
    assert.equal(dupTeam.code, 5);
    const added = await cli(['team', 'add', 'vision', 'alice', 'editor']);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /alice is now editor of team vision/);
    assert.equal((await cli(['team', 'add', 'vision', 'bob', 'viewer'])).code, 0);
    const granted = await cli(['user', 'grant', 'bob', 'vision/mnist', 'editor']);
    assert.equal(granted.code, 0, granted.stderr);
    assert.match(granted.stdout, /bob is now editor of vision\/mnist/);
    const badRole = await cli(['user', 'grant', 'bob', 'vision', 'owner']);
    assert.equal(badRole.code, 5);
    assert.match(badRole.stderr, /Unknown role "owner"; use one of viewer, editor, admin/);
    const badTeamRole = await cli(['team', 'add', 'vision', 'bob', 'superuser']);
    assert.equal(badTeamRole.code, 5);
    const noUser = await cli(['user', 'grant', 'nobody', 'vision', 'viewer']);
    assert.equal(noUser.code, 3);
    assert.match(noUser.stderr, /no user "nobody"/);
    const ls = JSON.parse((await cli(['--json', 'user', 'ls'])).stdout);
    const bobRow = ls.items.find((u: { name: string }) => u.name === 'bob');
    assert.deepEqual(
      bobRow.grants.map((g: { entity: string; project: string | null; role: string }) => `${g.role}:${g.entity}/${g.project ?? '*'}`).sort(),
      ['admin:bob/*', 'editor:vision/mnist', 'viewer:vision/*'],
    );
    assert.match((await cli(['user', 'ls'])).stdout, /alice\s+editor:vision, admin:alice|alice\s+admin:alice, editor:vision/);
  });

  it('artifact versions --json says who logged each version; a viewer-level delete is refused with the role named', async () => {
    const put = await cli(['--json', 'artifact', 'put', path.join(base, 'ds'), '--name', 'vision/mnist/raw', '--type', 'dataset'], alice);
    assert.equal(put.code, 0, put.stderr);
    const versions = JSON.parse((await cli(['--json', 'artifact', 'versions', 'vision/mnist/raw'], bob)).stdout);
    assert.equal(versions.items[0].createdBy, 'alice');
    assert.match((await cli(['artifact', 'versions', 'vision/mnist/raw'], bob)).stdout, /BY[\s\S]*alice/);
    const rm = await cli(['artifact', 'rm', 'vision/mnist/raw:v0'], bob);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /role on vision\/mnist is editor; deleting a version needs admin/);
  });

  it('key create (with expiry) / ls / revoke; a revoked key stops working; an unknown key id exits 5', async () => {
    const made = await cli(['key', 'create', '--label', 'ci', '--expires-in', '30d'], alice);
    assert.equal(made.code, 0, made.stderr);
    const ciKey = lastLine(made.stdout);
    assert.match(ciKey, /^amp_/);
    const keys = JSON.parse((await cli(['--json', 'key', 'ls'], alice)).stdout).items;
    assert.equal(keys.length, 2);
    const ci = keys.find((k: { label: string }) => k.label === 'ci');
    assert.ok(ci.expiresAt && Date.parse(ci.expiresAt) > Date.now() + 29 * 86400_000);
    assert.ok(!JSON.stringify(keys).includes(ciKey), 'ls never shows a key');
    assert.equal((await cli(['artifact', 'versions', 'vision/mnist/raw'], ciKey)).code, 0);
    const revoked = await cli(['key', 'revoke', ci.id], alice);
    assert.equal(revoked.code, 0, revoked.stderr);
    const after = await cli(['artifact', 'versions', 'vision/mnist/raw'], ciKey);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /revoked/);
    const unknown = await cli(['key', 'revoke', '999999'], alice);
    assert.equal(unknown.code, 5);
    assert.match(unknown.stderr, /no API key with id "999999".*amphora key ls/);
    const notMine = await cli(['key', 'revoke', keys.find((k: { label: string }) => k.label !== 'ci').id], bob);
    assert.equal(notMine.code, 5, 'another user\'s key looks unknown');
    const badDuration = await cli(['key', 'create', '--expires-in', 'soon'], alice);
    assert.equal(badDuration.code, 5);
  });

  it('user revoke-grant takes a role away at once; a grant that does not exist exits 5; the personal entity role stays', async () => {
    assert.equal((await cli(['user', 'grant', 'bob', 'vision/mnist', 'admin'])).code, 0);
    assert.equal((await cli(['artifact', 'versions', 'vision/mnist/raw'], bob)).code, 0);
    const removed = await cli(['user', 'revoke-grant', 'bob', 'vision/mnist']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /bob is no longer admin of vision\/mnist/);
    const entityWide = await cli(['--json', 'user', 'revoke-grant', 'bob', 'vision']);
    assert.deepEqual(JSON.parse(entityWide.stdout), { user: 'bob', entity: 'vision', project: null, role: 'viewer' });
    // No role left on the team's project: it is hidden again (404 → exit 3), immediately.
    const hidden = await cli(['artifact', 'versions', 'vision/mnist/raw'], bob);
    assert.equal(hidden.code, 3, hidden.stderr);
    const again = await cli(['user', 'revoke-grant', 'bob', 'vision']);
    assert.equal(again.code, 5);
    assert.match(again.stderr, /bob has no role of their own on vision/);
    const personal = await cli(['user', 'revoke-grant', 'bob', 'bob']);
    assert.equal(personal.code, 5);
    assert.match(personal.stderr, /always admin of their personal entity/);
    // Only admins of the entity may remove its roles.
    const byEditor = await cli(['user', 'revoke-grant', 'alice', 'vision'], alice);
    assert.equal(byEditor.code, 1);
    assert.match(byEditor.stderr, /needs admin there; your role is editor/);
    const ls = JSON.parse((await cli(['--json', 'user', 'ls'])).stdout);
    assert.deepEqual(ls.items.find((u: { name: string }) => u.name === 'bob').grants.map((g: { entity: string }) => g.entity), ['bob']);
  });

  it('audit lists who did what, newest first, one page at a time (--all follows the pages)', async () => {
    for (const a of ['best', 'prod', 'staging']) assert.equal((await cli(['artifact', 'alias', 'add', 'vision/mnist/raw:v0', a], alice)).code, 0);
    const first = JSON.parse((await cli(['--json', 'audit', 'vision/mnist', '--limit', '2'])).stdout);
    assert.equal(first.items.length, 2);
    assert.deepEqual(first.items.map((i: { action: string; actor: string }) => `${i.actor} ${i.action}`), ['alice alias.move', 'alice alias.move']);
    assert.ok(first.nextCursor);
    const rest = JSON.parse((await cli(['--json', 'audit', 'vision/mnist', '--cursor', first.nextCursor, '--all'])).stdout);
    assert.equal(rest.nextCursor, null);
    const all = [...first.items, ...rest.items].filter((i: { action: string }) => /^(version|alias|registry)\./.test(i.action));
    assert.equal(all[all.length - 1].action, 'version.create', 'the oldest version entry is the first log');
    assert.equal(all[all.length - 1].actor, 'alice');
    const human = await cli(['audit', 'vision/mnist', '--limit', '1']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /AT\s+BY\s+ACTION\s+TARGET[\s\S]*alice\s+alias\.move[\s\S]*More: amphora audit vision\/mnist --cursor \S+/);
    // A project the caller cannot see looks absent; a malformed target is bad input.
    assert.equal((await cli(['audit', 'vision/mnist'], bob)).code, 3);
    assert.equal((await cli(['audit', 'a/b/c'])).code, 5);
  });

  it('audit shows who granted and removed which role to whom on what, and key create/revoke; entity-wide rows only to entity members', async () => {
    type Row = { actor: string; action: string; project: string | null; target: string; detail: Record<string, unknown> };
    const line = (i: Row) => `${i.actor} ${i.action} ${i.project ?? '*'} ${i.target} ${String(i.detail.role ?? i.detail.user)}${i.detail.previousRole ? ` was ${String(i.detail.previousRole)}` : ''}`;
    const trail = (JSON.parse((await cli(['--json', 'audit', 'vision/mnist', '--all'])).stdout).items as Row[]).filter((i) => /^(grant|key)\./.test(i.action)).map(line).reverse();
    assert.deepEqual(trail, [
      'admin grant.add * alice editor',
      'admin grant.add * bob viewer',
      'admin grant.add mnist bob editor',
      'admin grant.add mnist bob admin was editor',
      'admin grant.remove mnist bob admin',
      'admin grant.remove * bob viewer',
    ]);
    // A project of another entity does not show vision's grants.
    const elsewhere = JSON.parse((await cli(['--json', 'audit', 'alice/notes', '--all'], alice)).stdout).items as Row[];
    assert.ok(!elsewhere.some((i) => i.action.startsWith('grant.') && i.target === 'bob'));
    // alice's keys are rows of her personal entity: she and site admins see them, with the key's id and label.
    const keys = elsewhere.filter((i) => i.action.startsWith('key.')).map((i) => `${i.actor} ${i.action} ${i.target.replace(/\d+/, 'N')} ${String(i.detail.user)} ${String(i.detail.label ?? '')}`).reverse();
    assert.deepEqual(keys, ['alice key.create key N alice ci', 'alice key.revoke key N alice ']);
    // Who made the user and the team: the first rows of their own trails.
    const made = (rows: Row[]) => rows.filter((i) => i.action.endsWith('.create') && !i.action.startsWith('key.') && !i.action.startsWith('version.')).map((i) => `${i.actor} ${i.action} ${i.project ?? '*'} ${i.target}`);
    assert.deepEqual(made(elsewhere), ['admin user.create * alice']);
    const vision = JSON.parse((await cli(['--json', 'audit', 'vision/mnist', '--all'])).stdout).items as Row[];
    assert.deepEqual(made(vision), ['admin team.create * vision']);
    assert.match((await cli(['audit', 'vision/mnist', '--all'])).stdout, /admin\s+team\.create\s+team vision/);
    // A project-level member (no role on the whole entity) sees the project's rows, not the entity's.
    assert.equal((await cli(['user', 'grant', 'bob', 'vision/mnist', 'viewer'])).code, 0);
    const bobs = JSON.parse((await cli(['--json', 'audit', 'vision/mnist', '--all'], bob)).stdout).items as Row[];
    assert.ok(bobs.some((i) => i.action === 'grant.add' && i.project === 'mnist' && i.target === 'bob' && i.detail.role === 'viewer'));
    assert.ok(!bobs.some((i) => i.project === null), 'no entity-wide rows for a project-level member');
    const human = await cli(['audit', 'vision/mnist', '--limit', '1']);
    assert.match(human.stdout, /admin\s+grant\.add\s+bob: viewer on vision\/mnist/);
    assert.equal((await cli(['user', 'revoke-grant', 'bob', 'vision/mnist'])).code, 0);
  });

  it('serve --team prints a generated site admin key once, and only on a new database', async () => {
    const dataDir = path.join(base, 'served-team');
    const start = async () => {
      const child = spawn(process.execPath, ['dist/cli.mjs', '--json', 'serve', '--team', '--port', '0', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`serve --team did not print within 90 s: ${stderr}`)), 90_000);
        child.stdout.on('data', (d) => {
          stdout += d;
          if (stdout.includes('"listening"') && stdout.trim().endsWith('}')) {
            clearTimeout(t);
            resolve();
          }
        });
      });
      const stop = async () => {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT');
        await exited;
      };
      return { info: JSON.parse(stdout), stderr, stop };
    };
    const first = await start();
    try {
      assert.equal(first.info.mode, 'team');
      const m = /AMPHORA_API_KEY=(amp_\S+)/.exec(first.stderr);
      assert.ok(m, first.stderr);
      const viewer = await fetch(`${first.info.url}/api/v1/viewer`, { headers: { authorization: `Bearer ${m[1]}` } });
      assert.equal(((await viewer.json()) as { user: string }).user, 'admin');
    } finally {
      await first.stop();
    }
    const second = await start();
    await second.stop();
    assert.doesNotMatch(second.stderr, /AMPHORA_API_KEY=/);
  });
});
