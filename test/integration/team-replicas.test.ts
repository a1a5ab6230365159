/**
 * Team mode: two server processes (replicas) on one PostgreSQL database and one blob folder.
 * Runs in the team suite (AMPHORA_TEST_DB=postgres), which starts the test cluster.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { AmphoraHttp } from '../../src/client/http.js';
import { subscribeEvents } from '../../src/client/events.js';
import type { ServerEvent } from '../../src/core/api.js';
import { TEAM_KEY, startTeam, type Replica, type Team } from '../support/replicas.js';
import { Api, sha256, TEAM_DB } from './server-helpers.js';
import { waitFor } from '../support/waitFor.js';

const ENTITY = 'admin';

function api(r: Replica): Api {
  return new Api(r.url, TEAM_KEY);
}

/** Subscribes to a replica's SSE stream; resolves once connected. */
async function listen(r: Replica): Promise<{ events: ServerEvent[]; at: number[]; stop(): Promise<void> }> {
  const http = new AmphoraHttp({ baseUrl: r.url, apiKey: TEAM_KEY });
  const events: ServerEvent[] = [];
  const at: number[] = [];
  const ac = new AbortController();
  let connected!: () => void;
  const ready = new Promise<void>((res) => (connected = res));
  const done = subscribeEvents(
    http,
    (e) => {
      events.push(e);
      at.push(Date.now());
    },
    { signal: ac.signal, onStatus: (s) => s === 'connected' && connected() },
  );
  await ready;
  return {
    events,
    at,
    async stop() {
      ac.abort();
      await done;
      await http.close();
    },
  };
}


/** Every file of a version, downloaded through `a`, must hash to its manifest digest. */
async function assertDownloads(a: Api, name: string, version: string, expected?: Record<string, string>): Promise<void> {
  const m = await a.get(`/api/v1/projects/${ENTITY}/team/artifacts/${name}/versions/${version}/manifest`);
  assert.equal(m.status, 200, `${name}:${version} manifest: ${JSON.stringify(m.body)}`);
  for (const [path, entry] of Object.entries(m.body.entries as Record<string, { digest: string; size: number }>)) {
    const r = await fetch(`${a.url}/api/v1/blobs/${entry.digest}`, { headers: { authorization: `Bearer ${a.key}` } });
    assert.equal(r.status, 200, `${name}:${version} ${path}`);
    const bytes = Buffer.from(await r.arrayBuffer());
    assert.equal(sha256(bytes), entry.digest, `${name}:${version} ${path} is byte-identical`);
    if (expected) assert.equal(bytes.toString(), expected[path], `${name}:${version} ${path} content`);
  }
}

describe('team mode: two replicas on one PostgreSQL database', function () {
  if (!TEAM_DB) return void it.skip('team-mode test: runs in the team suite (AMPHORA_TEST_DB=postgres)');
  this.timeout(120_000);
  let team: Team;
  let a: Replica;
  let b: Replica;
  before(async () => {
    team = await startTeam(2, ['--heartbeat-timeout-ms', '600']);
    [a, b] = team.replicas;
  });
  after(async () => {
    await team?.close();
  });

  it('replicas started together on a fresh database migrate it once', async () => {
    const c = new pg.Client({ connectionString: team.db.url });
    await c.connect();
    try {
      const steps = (await c.query('SELECT step FROM schema_migrations ORDER BY step')).rows.map((r) => r.step as number);
      assert.deepEqual(steps, [...Array(steps.length).keys()], 'each step once, none missing');
      assert.ok(steps.length >= 3);
    } finally {
      await c.end();
    }
  });

  it('32 concurrent writers split across the replicas get v0…v31, contiguous and distinct', async () => {
    const results = await Promise.all(
      Array.from({ length: 32 }, (_, i) => api(i % 2 ? b : a).logVersion('team', 'contended', 'dataset', { 'f.txt': `writer ${i}` })),
    );
    for (const r of results) assert.equal(r.status, 201, JSON.stringify(r.body));
    const versions = results.map((r) => r.body.version.version as string).sort((x, y) => Number(x.slice(1)) - Number(y.slice(1)));
    assert.deepEqual(versions, Array.from({ length: 32 }, (_, i) => `v${i}`));
    const listed = await api(a).get(`/api/v1/projects/${ENTITY}/team/artifacts/contended/versions?limit=100`);
    assert.equal(listed.body.items.length, 32);
    const latest = await api(b).get(`/api/v1/resolve?ref=${ENTITY}/team/contended:latest`);
    assert.equal(latest.body.version, 'v31');
  });

  it('identical content logged through both replicas at once makes one version', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => api(i % 2 ? b : a).logVersion('team', 'same', 'dataset', { 'same.txt': 'identical' })));
    for (const r of results) assert.ok(r.status === 200 || r.status === 201, JSON.stringify(r.body));
    assert.deepEqual([...new Set(results.map((r) => r.body.version.version))], ['v0']);
    assert.equal(results.filter((r) => r.body.created).length, 1);
    const listed = await api(b).get(`/api/v1/projects/${ENTITY}/team/artifacts/same/versions`);
    assert.equal(listed.body.items.length, 1);
  });

  it('an SSE client on replica A sees a version committed on replica B within 1 s, big events included', async () => {
    const sub = await listen(a);
    try {
      const sent = Date.now();
      const r = await api(b).logVersion('team', 'announced', 'dataset', { 'x.txt': 'x' });
      assert.equal(r.status, 201);
      const i = await waitFor('version.created on A', () => {
        const k = sub.events.findIndex((e) => e.type === 'version.created' && e.version.name === 'announced');
        return k === -1 ? undefined : k;
      }, 1000);
      assert.ok(sub.at[i] - sent <= 1000, `arrived after ${sub.at[i] - sent} ms`);
      assert.ok(sub.events.some((e) => e.type === 'alias.moved' && e.name === 'announced' && e.alias === 'latest'));
      // Larger than one NOTIFY may carry (8000 bytes): travels by id through event_payloads.
      // Events never carry metadata, so a version with many long aliases makes a big one.
      const aliases = Array.from({ length: 80 }, (_, i) => `a${i}-${'m'.repeat(110)}`);
      const r2 = await api(b).logVersion('team', 'announced', 'dataset', { 'x.txt': 'y' }, { aliases, metadata: { blob: 'm'.repeat(20_000) } });
      assert.equal(r2.status, 201);
      const e = await waitFor('the big version.created on A', () => sub.events.find((ev) => ev.type === 'version.created' && ev.version.version === 'v1'), 1000);
      assert.equal(e.type === 'version.created' && e.version.aliases.length, 81);
      assert.ok(!('metadata' in (e as { version: object }).version), 'events do not carry metadata');
      assert.equal(sub.events.filter((ev) => ev.type === 'version.created' && ev.version.name === 'announced').length, 2, 'each event once');
    } finally {
      await sub.stop();
    }
  });

  it("a replica's cached resolve follows a commit made on the other replica", async () => {
    await api(a).logVersion('team', 'cached', 'dataset', { 'c.txt': 'one' });
    for (let i = 0; i < 5; i++) assert.equal((await api(a).get(`/api/v1/resolve?ref=${ENTITY}/team/cached:latest`)).body.version, 'v0');
    await api(b).logVersion('team', 'cached', 'dataset', { 'c.txt': 'two' });
    const deadline = Date.now() + 1000;
    let seen = '';
    while (Date.now() < deadline && seen !== 'v1') seen = (await api(a).get(`/api/v1/resolve?ref=${ENTITY}/team/cached:latest`)).body.version;
    assert.equal(seen, 'v1', 'replica A still answers from a stale cache');
  });

  it('a key revoked through replica A is refused by replica B on its next requests (the NOTIFY drops B\'s key cache; its age limit is 60 s)', async () => {
    const made = await api(a).post('/api/v1/keys', { label: 'revoke across replicas' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const key = new Api(b.url, made.body.apiKey as string);
    // B has the key cached (resolved once, then served from its cache).
    for (let i = 0; i < 3; i++) assert.equal((await key.get('/api/v1/viewer')).status, 200);
    assert.equal((await api(a).del(`/api/v1/keys/${made.body.key.id}`)).status, 200);
    const deadline = Date.now() + 1000;
    let res = await key.get('/api/v1/viewer');
    while (res.status === 200 && Date.now() < deadline) res = await key.get('/api/v1/viewer');
    assert.equal(res.status, 401, 'replica B still accepts the revoked key from its cache');
    assert.match(res.body.error.message, /was revoked/);
  });

  it('a run that stops beating is marked crashed once, and both replicas announce it', async () => {
    const subA = await listen(a);
    const subB = await listen(b);
    try {
      const run = await api(a).post(`/api/v1/projects/${ENTITY}/team/runs`, { jobType: 'train' });
      assert.equal(run.status, 201, JSON.stringify(run.body));
      const id = run.body.id as string;
      const crashedOn = (s: { events: ServerEvent[] }) => s.events.filter((e) => e.type === 'run.updated' && e.run.id === id && e.run.state === 'crashed');
      await waitFor('crashed on both', () => (crashedOn(subA).length && crashedOn(subB).length ? true : undefined), 5000);
      // A second run started now crashes only in a later sweep: once both replicas announced it,
      // the sweeps after the first crash have run, and must not have announced that one again.
      const probe = (await api(b).post(`/api/v1/projects/${ENTITY}/team/runs`, { jobType: 'probe' })).body.id as string;
      const probeCrashed = (s: { events: ServerEvent[] }) => s.events.some((e) => e.type === 'run.updated' && e.run.id === probe && e.run.state === 'crashed');
      await waitFor('a later sweep to crash the probe run on both', () => probeCrashed(subA) && probeCrashed(subB), 5000);
      assert.equal(crashedOn(subA).length, 1);
      assert.equal(crashedOn(subB).length, 1);
      assert.equal((await api(b).get(`/api/v1/projects/${ENTITY}/team/runs/${id}`)).body.state, 'crashed');
    } finally {
      await subA.stop();
      await subB.stop();
    }
  });

  it('SIGKILL of one replica mid-commit: every acknowledged version downloads byte-identical through the other, no half version', async () => {
    const acked = new Map<string, Record<string, string>>();
    let stop = false;
    let cut = 0;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const files: Record<string, string> = {};
        for (let f = 0; f < 4; f++) files[`w${w}/f${f}.bin`] = `${w}-${i}-${f}-${randomBytes(2048).toString('base64')}`;
        const r = await api(b)
          .logVersion('team', 'killed', 'dataset', files)
          .catch(() => undefined);
        if (!r) {
          cut++; // the replica died under this request
          return;
        }
        if (r.status === 201) acked.set(r.body.version.version, files);
      }
    };
    const writers = Array.from({ length: 6 }, (_, w) => writer(w));
    await waitFor('some acknowledged versions', () => (acked.size >= 10 ? true : undefined), 60_000);
    await b.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    assert.ok(cut >= 1, 'the kill interrupted requests in flight');
    const listed = await api(a).get(`/api/v1/projects/${ENTITY}/team/artifacts/killed/versions?limit=1000`);
    assert.equal(listed.status, 200);
    const versions = (listed.body.items as { version: string; state: string }[]).map((v) => v.version);
    const n = versions.length;
    assert.ok(n >= acked.size, `${n} listed, ${acked.size} acknowledged`);
    assert.deepEqual([...versions].sort(), Array.from({ length: n }, (_, i) => `v${i}`).sort(), 'contiguous');
    for (const v of acked.keys()) assert.ok(versions.includes(v), `acknowledged ${v} is visible`);
    for (const v of versions) await assertDownloads(api(a), 'killed', v, acked.get(v));
    const latest = await api(a).get(`/api/v1/resolve?ref=${ENTITY}/team/killed:latest`);
    assert.equal(latest.body.version, `v${n - 1}`);
    // The surviving replica keeps working, and a new replica joins the same store.
    assert.equal((await api(a).logVersion('team', 'killed', 'dataset', { 'after.txt': 'after' })).body.version.version, `v${n}`);
    const c = await team.start();
    await assertDownloads(api(c), 'killed', `v${n}`, { 'after.txt': 'after' });
  });
});
