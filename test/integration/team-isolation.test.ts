/**
 * Team mode: what one team cannot learn about another, blob read rules, the audit trail, the
 * bootstrap admin, and that the database never holds an API key in plain text.
 */
import { PGlite } from '@electric-sql/pglite';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startServer } from '../../src/server/index.js';
import { PG_BIN, TEAM_DB } from '../support/postgres.js';
import { Api, itEmbedded, sha256, tempDir } from './server-helpers.js';
import { BOOTSTRAP_KEY, createUser, ok, startTeamServer } from './team-helpers.js';

/** Every text a caller can get back, concatenated (bodies and SSE frames). */
function texts(...bodies: unknown[]): string {
  return bodies.map((b) => (typeof b === 'string' ? b : JSON.stringify(b))).join('\n');
}

const HIDDEN = ['hiddenteam', 'hidden-proj', 'hidden-model', 'hidden-train', 'hidden-bytes'];

describe('team mode: isolation between teams, blob rules, audit', function () {
  this.timeout(180_000);
  let s: Awaited<ReturnType<typeof startTeamServer>>;
  let hidden: Api;
  let outsider: Api;
  const HB = Buffer.from('hidden-bytes of the hidden team');

  before(async () => {
    s = await startTeamServer();
    await ok(s.admin.post('/api/v1/teams', { name: 'hiddenteam' }));
    await ok(s.admin.post('/api/v1/teams', { name: 'openteam' }));
    hidden = await createUser(s.admin, 'insider');
    outsider = await createUser(s.admin, 'outsider');
    await ok(s.admin.post('/api/v1/teams/hiddenteam/members', { user: 'insider', role: 'admin' }));
    await ok(s.admin.post('/api/v1/teams/openteam/members', { user: 'outsider', role: 'editor' }));
    // The hidden team logs a model from a run.
    await ok(hidden.post('/api/v1/projects/hiddenteam/hidden-proj/runs', { id: 'hrun', name: 'hidden-train-1', jobType: 'hidden-train' }));
    await ok(hidden.putBlob(HB));
    await ok(
      hidden.post('/api/v1/projects/hiddenteam/hidden-proj/artifacts/hidden-model/versions', {
        type: 'model',
        manifest: { 'w.bin': { digest: sha256(HB), size: HB.length } },
        runId: 'hrun',
      }),
    );
    // A site admin (who sees both) records that a run of the open team used the hidden model.
    await ok(s.admin.post('/api/v1/projects/openteam/open-proj/runs', { id: 'orun', jobType: 'evaluate' }));
    await ok(s.admin.post('/api/v1/projects/openteam/open-proj/runs/orun/inputs', { ref: 'hiddenteam/hidden-proj/hidden-model:v0' }));
    await ok(outsider.logVersion('open-proj', 'open-data', 'dataset', { 'a.txt': 'open' }, { entity: 'openteam', runId: 'orun' }));
  });
  after(async () => s?.stop());

  it('no response to an outsider names the other team, its projects, artifacts, runs or job types', async () => {
    const sse = await fetch(`${s.server.url}/api/v1/events`, { headers: { authorization: `Bearer ${outsider.key}` } });
    const reader = (sse.body as ReadableStream<Uint8Array>).getReader();
    // While the outsider listens, the hidden team logs and aliases; the open team logs too.
    await ok(hidden.logVersion('hidden-proj', 'hidden-model', 'model', { 'w.bin': 'hidden-bytes v1' }, { entity: 'hiddenteam', aliases: ['hidden-best'] }));
    await ok(outsider.logVersion('open-proj', 'open-data', 'dataset', { 'a.txt': 'open v1' }, { entity: 'openteam' }));
    let frames = '';
    const deadline = Date.now() + 5000;
    while (!frames.includes('"open-data"') && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      frames += new TextDecoder().decode(value);
    }
    await reader.cancel();
    assert.match(frames, /version\.created/, 'the outsider does get events of their own team');

    const O = '/api/v1/projects/openteam/open-proj';
    const H = '/api/v1/projects/hiddenteam/hidden-proj';
    const replies = await Promise.all([
      outsider.get('/api/v1/projects'),
      outsider.get('/api/v1/viewer'),
      outsider.get(`${O}/lineage`),
      outsider.get(`${O}/lineage?level=type`),
      outsider.get(`${O}/runs/orun/inputs`),
      outsider.get(`${O}/runs/orun`),
      outsider.get(`${O}/artifacts`),
      outsider.get(`${O}/audit`),
      outsider.get(`${H}/artifacts`),
      outsider.get(`${H}/artifacts/hidden-model/versions/v0`),
      outsider.get(`${H}/lineage`),
      outsider.get(`/api/v1/resolve?ref=hiddenteam/hidden-proj/hidden-model:latest`),
      outsider.post(`${O}/runs/orun/inputs`, { ref: 'hiddenteam/hidden-proj/hidden-model:v0' }),
      outsider.get(`/api/v1/blobs/${sha256(HB)}`),
      outsider.post('/api/v1/blobs/batch-get', { digests: [sha256(HB)] }),
      outsider.post('/api/v1/grants', { user: 'outsider', entity: 'hiddenteam', role: 'viewer' }),
      outsider.post('/api/v1/teams/hiddenteam/members', { user: 'outsider', role: 'viewer' }),
    ]);
    const all = texts(frames, ...replies.map((r) => r.body));
    for (const name of HIDDEN) assert.ok(!all.includes(name), `"${name}" leaked to the outsider: …${all.slice(Math.max(0, all.indexOf(name) - 200), all.indexOf(name) + 100)}…`);
    // The outsider's lineage keeps their own run and data, without the hidden input.
    const lineage = replies[2].body;
    assert.ok(lineage.nodes.some((n: { label: string }) => n.label.includes('open-data')));
    assert.equal(replies[4].body.items.length, 0, 'the hidden input is not listed');
    assert.deepEqual(replies[0].body.items.map((p: { entity: string }) => p.entity), ['openteam']);
    for (const r of replies.slice(8)) assert.equal(r.status, 404, JSON.stringify(r.body));
    // The site admin sees the cross-team edge the outsider does not.
    const full = await ok(s.admin.get(`${O}/runs/orun/inputs`));
    assert.equal(full.items[0].name, 'hidden-model');
  });

  it('a known digest is not enough: negotiate calls it missing, a commit naming it is refused until the bytes are uploaded', async () => {
    const digest = sha256(HB);
    const neg = await ok(outsider.post('/api/v1/blobs/negotiate', { blobs: [{ digest, size: HB.length }] }));
    assert.deepEqual(neg.missing.map((m: { digest: string }) => m.digest), [digest], 'the server does not reveal that it holds the blob');
    const manifest = { 'stolen.bin': { digest, size: HB.length } };
    const refused = await outsider.post('/api/v1/projects/openteam/open-proj/artifacts/copy/versions', { type: 'model', manifest });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'missing_blobs');
    // Word for word the refusal a site admin gets for a blob no one ever uploaded.
    const absent = sha256(Buffer.from('uploaded by no one'));
    const none = await s.admin.post('/api/v1/projects/openteam/open-proj/artifacts/copy/versions', { type: 'model', manifest: { 'stolen.bin': { digest: absent, size: HB.length } } });
    assert.equal(none.body.error.code, 'missing_blobs');
    assert.equal(refused.body.error.message.replaceAll(digest, 'DIGEST'), none.body.error.message.replaceAll(absent, 'DIGEST'));
    assert.equal((await outsider.get(`/api/v1/blobs/${digest}`)).status, 404);
    // Claiming the digest with other bytes proves nothing (the store re-hashes even a blob it has).
    const fake = Buffer.alloc(HB.length, 0x41);
    assert.equal((await outsider.putBlob(fake, digest)).status, 422);
    const batch = Buffer.concat([Buffer.from(JSON.stringify({ blobs: [{ digest, size: fake.length }] }) + '\n'), fake]);
    assert.equal((await outsider.req('POST', '/api/v1/blobs/batch', batch, { 'content-type': 'application/octet-stream' })).status, 422);
    assert.equal((await outsider.get(`/api/v1/blobs/${digest}`)).status, 404);
    assert.equal((await outsider.post('/api/v1/projects/openteam/open-proj/artifacts/copy/versions', { type: 'model', manifest })).status, 409);
    // Holding the bytes is proof enough: upload, then commit works, and the download too.
    await ok(outsider.putBlob(HB));
    await ok(outsider.post('/api/v1/projects/openteam/open-proj/artifacts/copy/versions', { type: 'model', manifest }));
    assert.equal((await outsider.get(`/api/v1/blobs/${digest}`)).body, HB.toString());
    // Another open-team member now reads it through the project, without uploading.
    const mate = await createUser(s.admin, 'mate');
    await ok(s.admin.post('/api/v1/grants', { user: 'mate', entity: 'openteam', project: 'open-proj', role: 'viewer' }));
    assert.equal((await mate.get(`/api/v1/blobs/${digest}`)).status, 200);
    const own = await ok(mate.post('/api/v1/blobs/negotiate', { blobs: [{ digest, size: HB.length }] }));
    assert.deepEqual(own.missing, []);
  });

  it('records who logged, aliased, edited and deleted: createdBy/updatedBy on versions and the project audit trail', async () => {
    const editor = await createUser(s.admin, 'eddie');
    await ok(s.admin.post('/api/v1/teams/openteam/members', { user: 'eddie', role: 'editor' }));
    const O = '/api/v1/projects/openteam/open-proj';
    const logged = await ok(editor.logVersion('open-proj', 'audited', 'dataset', { 'x.txt': 'audited' }, { entity: 'openteam' }));
    assert.equal(logged.version.createdBy, 'eddie');
    const moved = await ok(outsider.patch(`${O}/artifacts/audited/versions/v0`, { aliases: { add: ['prod'] }, description: 'checked' }));
    assert.equal(moved.createdBy, 'eddie');
    assert.equal(moved.updatedBy, 'outsider');
    await ok(s.admin.del(`${O}/artifacts/audited/versions/v0?deleteAliases=true`));
    const trail = (await ok(editor.get(`${O}/audit`))).items.filter((i: { target: string }) => i.target.startsWith('audited:'));
    const summary = trail.map((i: { actor: string; action: string; target: string }) => `${i.actor} ${i.action} ${i.target}`).reverse();
    assert.deepEqual(summary, [
      'eddie version.create audited:v0',
      'eddie alias.move audited:latest',
      'outsider version.update audited:v0',
      'outsider alias.move audited:prod',
      'admin alias.remove audited:latest',
      'admin alias.remove audited:prod',
      'admin version.delete audited:v0',
    ]);
  });

  it('site admin bootstrap: AMPHORA_BOOTSTRAP_KEY only on an empty database; otherwise a generated key, printed once', async () => {
    const dir = tempDir();
    // The PostgreSQL suite sets a shared bootstrap key in the environment; this start must have none.
    const saved = process.env.AMPHORA_BOOTSTRAP_KEY;
    delete process.env.AMPHORA_BOOTSTRAP_KEY;
    try {
      const first = await startServer({ dataDir: dir, quiet: true, mode: 'team' });
      if (saved !== undefined) process.env.AMPHORA_BOOTSTRAP_KEY = saved;
      assert.ok(first.generatedAdminKey && first.generatedAdminKey.length >= 40);
      const viewer = await ok(new Api(first.url, first.generatedAdminKey).get('/api/v1/viewer'));
      assert.equal(viewer.user, 'admin');
      assert.equal(viewer.siteAdmin, true);
      await first.close();
      const again = await startServer({ dataDir: dir, quiet: true, mode: 'team', bootstrapKey: BOOTSTRAP_KEY });
      assert.equal(again.generatedAdminKey, undefined, 'users exist: nothing new is made or printed');
      assert.equal((await new Api(again.url, BOOTSTRAP_KEY).get('/api/v1/viewer')).status, 401, 'a later bootstrap key is ignored');
      assert.equal((await new Api(again.url, first.generatedAdminKey).get('/api/v1/viewer')).status, 200);
      await again.close();
      await assert.rejects(startServer({ dataDir: dir, quiet: true, mode: 'team', bootstrapKey: 'short' }), /AMPHORA_BOOTSTRAP_KEY must be at least 32 characters/);
    } finally {
      if (saved !== undefined) process.env.AMPHORA_BOOTSTRAP_KEY = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a data dir first served embedded keeps its versions downloadable for their readers once served --team', async () => {
    const dir = tempDir();
    try {
      const embedded = await startServer({ dataDir: dir, quiet: true });
      const owner = new Api(embedded.url, embedded.apiKey);
      const entity = await owner.entity();
      await ok(owner.logVersion('legacy', 'old-data', 'dataset', { 'a.txt': 'logged before team mode' }));
      await embedded.close();
      const team = await startServer({ dataDir: dir, quiet: true, mode: 'team', bootstrapKey: BOOTSTRAP_KEY });
      try {
        const admin = new Api(team.url, BOOTSTRAP_KEY);
        assert.equal((await admin.get(`/api/v1/projects/${entity}/legacy/artifacts/old-data/versions/v0`)).status, 200);
        const reader = await createUser(admin, 'legacy-reader');
        // Grants name entities of users or teams: the embedded owner's entity becomes a user's.
        await createUser(admin, entity);
        await ok(admin.post('/api/v1/grants', { user: 'legacy-reader', entity, project: 'legacy', role: 'viewer' }));
        const digest = sha256('logged before team mode');
        assert.equal((await reader.get(`/api/v1/blobs/${digest}`)).body, 'logged before team mode');
        assert.deepEqual((await ok(reader.post('/api/v1/blobs/negotiate', { blobs: [{ digest, size: 23 }] }))).missing, []);
      } finally {
        await team.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // PostgreSQL variant: what an operator's backup holds.
  (TEAM_DB ? it : it.skip)('pg_dump of the team database holds no API key, only their SHA-256 (PostgreSQL)', async () => {
    const made = await ok(s.admin.post('/api/v1/users', { name: 'dumped' }));
    const extra = await ok(new Api(s.server.url, made.apiKey).post('/api/v1/keys', { label: 'second' }));
    const keys = [BOOTSTRAP_KEY, made.apiKey, extra.apiKey, hidden.key, outsider.key];
    assert.ok(s.dbUrl, 'team mode runs on a PostgreSQL database');
    const dump = execFileSync(join(PG_BIN, 'pg_dump'), ['--data-only', '--no-owner', s.dbUrl], { encoding: 'utf8', maxBuffer: 256 << 20 });
    assert.ok(dump.includes('dumped'), 'the dump does contain the data');
    for (const k of keys) {
      assert.ok(!dump.includes(k), 'a plain API key is in the pg_dump');
      assert.ok(dump.includes(sha256(k)), 'its SHA-256 is what is stored');
    }
  });

  // PGlite variant (the data dir); on PostgreSQL the pg_dump test above.
  itEmbedded('the database holds no API key: every column of every table, and every file of the data dir', async () => {
    const made = await ok(s.admin.post('/api/v1/users', { name: 'keyholder' }));
    const extra = await ok(new Api(s.server.url, made.apiKey).post('/api/v1/keys', { label: 'second' }));
    const keys = [BOOTSTRAP_KEY, made.apiKey, extra.apiKey, hidden.key, outsider.key];
    await s.server.close();
    const db = await PGlite.create(join(s.dir, 'db'));
    try {
      const tables = (await db.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)).rows;
      assert.ok(tables.some((t) => t.table_name === 'api_keys'));
      let dump = '';
      for (const t of tables) for (const r of (await db.query<{ row: string }>(`SELECT t::text AS row FROM "${t.table_name}" t`)).rows) dump += r.row + '\n';
      assert.ok(dump.includes('keyholder'), 'the dump does contain the data');
      for (const k of keys) {
        assert.ok(!dump.includes(k), 'a plain API key is in the database');
        assert.ok(dump.includes(sha256(k)), 'its SHA-256 is what is stored');
      }
    } finally {
      await db.close();
    }
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d)) {
        const p = join(d, e);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(s.dir);
    for (const f of files) {
      const bytes = readFileSync(f);
      for (const k of keys) assert.equal(bytes.indexOf(k), -1, `${f} holds a plain API key`);
    }
  });
});
