import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdir, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Api, Artifact, init, materialize } from '../../src/client/index.js';
import { AmphoraHttp } from '../../src/client/http.js';
import { resolveConnection } from '../../src/client/connection.js';
import { AmphoraError } from '../../src/core/errors.js';
import { blobGets, blobPuts, startHarness, type Harness } from './sdk-harness.js';
import { itEmbedded } from './server-helpers.js';
import { cachedBytes, damageCached } from '../support/cacheBlobs.js';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const isCode = (c: string, re?: RegExp) => (e: unknown) => e instanceof AmphoraError && e.code === c && (!re || re.test(e.message));

async function writeTree(root: string, files: Record<string, string | Buffer>) {
  for (const [p, data] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, p)), { recursive: true });
    await writeFile(path.join(root, p), data);
  }
}

async function readTree(root: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, await readTree(root, r));
    else out[r] = await readFile(path.join(root, r), 'utf8');
  }
  return out;
}

describe('SDK against a real server', function () {
  this.timeout(60_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.close();
  });

  it('logs a folder from one run and downloads it byte-identical in another (lineage both ways)', async () => {
    const src = path.join(h.work, 'rt', 'data');
    const files = { 'train.csv': 'a,b\n1,2\n', 'images/0.png': Buffer.alloc(70_000, 3).toString('latin1'), 'images/1.png': 'png1' };
    await writeTree(src, files);
    const producer = await init({ client: h.client, project: 'rt', jobType: 'load-data', config: { seed: 1 } });
    const art = new Artifact('mnist-raw', 'dataset', { description: 'raw', metadata: { source: 'test' } });
    assert.equal(await art.addDir(src), 3);
    await producer.logArtifact(art, { aliases: ['best'] });
    assert.equal(art.version, 'v0');
    assert.deepEqual([...art.aliases].sort(), ['best', 'latest']);
    assert.equal(art.fileCount, 3);
    await producer.finish();

    const consumerClient = await h.freshClient();
    const consumer = await init({ client: consumerClient, project: 'rt', jobType: 'preprocess' });
    const used = await consumer.useArtifact('mnist-raw:latest');
    assert.equal(used.version, 'v0');
    assert.equal(used.digest, art.digest);
    const root = path.join(h.work, 'rt', 'out');
    const r = await used.download({ root });
    assert.equal(r.fetched, 3);
    assert.deepEqual(await readTree(root), files);
    await consumer.finish();

    assert.equal((await used.loggedBy())?.id, producer.id);
    assert.deepEqual((await used.usedBy()).map((x) => x.id), [consumer.id]);
  });

  it('useArtifact is idempotent and entries download alone', async () => {
    const run = await init({ client: h.client, project: 'rt', jobType: 'train' });
    const a = await run.useArtifact('mnist-raw:v0');
    await run.useArtifact('mnist-raw:best');
    assert.equal((await run.usedArtifacts()).length, 1);
    const entry = await a.getPath('train.csv');
    assert.equal(entry.digest, sha('a,b\n1,2\n'));
    const p = await entry.download(path.join(h.work, 'rt', 'single'));
    assert.equal(await readFile(p, 'utf8'), 'a,b\n1,2\n');
    await assert.rejects(a.getPath('nope.csv'), isCode('not_found', /train\.csv/));
    await run.finish();
  });

  it('dedups identical content (same version, aliases applied, latest moves) and uploads only missing blobs', async () => {
    const src = path.join(h.work, 'dd');
    await writeTree(src, { 'a.txt': 'A', 'b.txt': 'B' });
    const mk = async () => {
      const a = new Artifact('dd', 'dataset');
      await a.addDir(src);
      return a;
    };
    const first = await (await mk()).log({ client: h.client, project: 'dd' });
    assert.equal(first.version, 'v0');
    const before = h.requests.length;
    const hashedBefore = h.client.statCache.hashed;
    const second = await (await mk()).log({ client: h.client, project: 'dd', aliases: ['prod'] });
    assert.equal(second.version, 'v0', 'identical content is the same version');
    assert.ok(second.aliases.includes('prod'));
    assert.equal(blobPuts(h.requests.slice(before)), 0, 'nothing re-uploaded');
    assert.equal(h.client.statCache.hashed, hashedBefore, 'unchanged files are not re-hashed (stat cache)');

    await writeFile(path.join(src, 'b.txt'), 'B2');
    const before2 = h.requests.length;
    const third = await (await mk()).log({ client: h.client, project: 'dd' });
    assert.equal(third.version, 'v1');
    assert.equal(blobPuts(h.requests.slice(before2)), 1, 'only the changed file is uploaded');
    const latest = await new Api({ client: h.client }).artifact('dd/dd:latest');
    assert.equal(latest.version, 'v1');
    // Re-logging v0's content moves latest back to v0.
    await writeFile(path.join(src, 'b.txt'), 'B');
    const fourth = await (await mk()).log({ client: h.client, project: 'dd' });
    assert.equal(fourth.version, 'v0');
    assert.equal((await new Api({ client: h.client }).artifact('dd/dd')).version, 'v0');
    const versions = await new Api({ client: h.client }).artifactVersions('dataset', 'dd/dd');
    assert.deepEqual(versions.map((v) => v.version).sort(), ['v0', 'v1']);
    await assert.rejects(new Api({ client: h.client }).artifactVersions('model', 'dd/dd'), isCode('type_mismatch'));
  });

  it("the producer's own download and any repeated download fetch nothing; a corrupted cached blob is refetched", async () => {
    const src = path.join(h.work, 'cache-src');
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`f${i}.txt`] = `content ${i} `.repeat(i + 1);
    await writeTree(src, files);
    const a = new Artifact('cached', 'dataset');
    await a.addDir(src);
    await a.log({ client: h.client, project: 'cache' });

    let mark = h.requests.length;
    const r1 = await a.download({ root: path.join(h.work, 'cache-out1') });
    assert.equal(blobGets(h.requests.slice(mark)), 0, 'producer cache serves its own download');
    assert.equal(r1.fromCache, 20);

    const consumer = await h.freshClient();
    const b = await new Api({ client: consumer }).artifact('cache/cached:latest');
    mark = h.requests.length;
    const r2 = await b.download({ root: path.join(h.work, 'cache-out2') });
    assert.equal(r2.fetched, 20, 'cold cache fetches every file');
    assert.equal(blobGets(h.requests.slice(mark)), 1, 'small files come in one batch request');
    mark = h.requests.length;
    const r3 = await b.download({ root: path.join(h.work, 'cache-out3') });
    assert.equal(blobGets(h.requests.slice(mark)), 0, 'warm cache fetches nothing');
    assert.equal(r3.fromCache, 20);
    const r4 = await b.download({ root: path.join(h.work, 'cache-out3') });
    assert.equal(r4.unchanged, 20, 'files already in root are left alone');

    // Corrupt one cached blob (same size, other bytes) in its pack: detected, the pack deleted,
    // and what it held fetched again in one batch.
    const victim = files['f5.txt'];
    damageCached(consumer.cacheDir, sha(victim));
    mark = h.requests.length;
    await b.download({ root: path.join(h.work, 'cache-out4') });
    assert.equal(blobGets(h.requests.slice(mark)), 1);
    assert.equal(consumer.blobCache.corrupted, 1);
    for (const [rel, text] of Object.entries(files)) assert.equal(await readFile(path.join(h.work, 'cache-out4', rel), 'utf8'), text);
    assert.equal(cachedBytes(consumer.cacheDir, sha(victim))?.toString(), victim, 'the cache holds good bytes again');
  });

  it('never writes outside the download root', async () => {
    const root = path.join(h.work, 'hostile-root');
    for (const bad of ['../escape.txt', '/etc/amphora-test', 'a/../../x', 'a\\..\\x']) {
      await assert.rejects(materialize(h.client, { [bad]: { digest: sha('x'), size: 1 } }, root), isCode('invalid_path'));
    }
    await assert.rejects(stat(path.join(h.work, 'escape.txt')));
    // A symlinked folder inside root that leads outside is refused too.
    const outside = path.join(h.work, 'outside');
    await mkdir(outside, { recursive: true });
    await mkdir(root, { recursive: true });
    await symlink(outside, path.join(root, 'sub'));
    const a = await new Api({ client: h.client }).artifact('rt/mnist-raw:v0');
    const m = await a.manifest();
    await assert.rejects(materialize(h.client, { 'sub/train.csv': m['train.csv'] }, root), isCode('invalid_path', /outside/));
    assert.deepEqual(await readdir(outside), []);
  });

  it('addDir over a folder with a symlink pointing outside fails with a clear error', async () => {
    const dir = path.join(h.work, 'symdir');
    await writeTree(dir, { 'ok.txt': 'ok' });
    await writeFile(path.join(h.work, 'secret.txt'), 'secret');
    await symlink(path.join(h.work, 'secret.txt'), path.join(dir, 'leak.txt'));
    await assert.rejects(new Artifact('sym', 'dataset').addDir(dir), isCode('invalid_path', /leak\.txt.*outside/));
  });

  describe('references', () => {
    let server: Server;
    let etag = '"v1"';
    let body = 'remote bytes';
    let url: string;
    before(async () => {
      server = createServer((req, res) => {
        res.setHeader('etag', etag);
        res.setHeader('content-length', Buffer.byteLength(body));
        res.end(req.method === 'HEAD' ? undefined : body);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as { port: number }).port}/data/remote.csv`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    it('http reference: ETag is the digest, Content-Length the size; a changed ETag fails download clearly', async () => {
      const a = new Artifact('remote', 'dataset');
      const [e] = await a.addReference(url);
      assert.equal(e.path, 'remote.csv');
      assert.equal(e.digest, 'v1');
      assert.equal(e.size, Buffer.byteLength(body));
      await a.log({ client: h.client, project: 'refs' });
      const got = await new Api({ client: h.client }).artifact('refs/remote');
      // The test's reference server is on loopback, which downloads refuse unless the user allows it.
      const host = new URL(url).hostname;
      await assert.rejects(got.download({ root: path.join(h.work, 'ref0') }), isCode('invalid_reference', new RegExp(`AMPHORA_REFERENCE_HOSTS=${host.replace(/\./g, '\\.')}`)));
      process.env.AMPHORA_REFERENCE_HOSTS = host;
      try {
        await got.download({ root: path.join(h.work, 'ref1') });
        assert.equal(await readFile(path.join(h.work, 'ref1', 'remote.csv'), 'utf8'), body);
        etag = '"v2"';
        body = 'changed bytes';
        await assert.rejects(got.download({ root: path.join(h.work, 'ref2') }), isCode('reference_changed', /"v1".*"v2"/));
        await assert.rejects(stat(path.join(h.work, 'ref2', 'remote.csv')));
      } finally {
        delete process.env.AMPHORA_REFERENCE_HOSTS;
      }
    });

    it('file:// reference hashes the content and detects a change', async () => {
      const f = path.join(h.work, 'local-ref.txt');
      await writeFile(f, 'local');
      const a = new Artifact('localref', 'dataset');
      const [e] = await a.addReference(pathToFileURL(f).href, { name: 'l.txt' });
      assert.equal(e.digest, sha('local'));
      await a.log({ client: h.client, project: 'refs' });
      const got = await new Api({ client: h.client }).artifact('refs/localref:v0');
      await got.download({ root: path.join(h.work, 'lref1') });
      assert.equal(await readFile(path.join(h.work, 'lref1', 'l.txt'), 'utf8'), 'local');
      await writeFile(f, 'LOCAL');
      await assert.rejects(got.download({ root: path.join(h.work, 'lref2') }), isCode('reference_changed'));
    });
  });

  it('distributed versions: runs of one group upsert, one finishes; a path conflict is an error', async () => {
    const runs = await Promise.all([0, 1].map((i) => init({ client: h.client, project: 'dist', jobType: 'shard', group: 'g1', name: `shard-${i}` })));
    await Promise.all(
      runs.map(async (run, i) => {
        const f = path.join(h.work, `shard-${i}.txt`);
        await writeFile(f, `shard ${i}`);
        const a = new Artifact('sharded', 'dataset');
        await a.addFile(f, { name: `part-${i}.txt` });
        await run.upsertArtifact(a);
      }),
    );
    const clash = new Artifact('sharded', 'dataset');
    const cf = path.join(h.work, 'clash.txt');
    await writeFile(cf, 'different');
    await clash.addFile(cf, { name: 'part-0.txt' });
    await assert.rejects(runs[1].upsertArtifact(clash), isCode('conflict'));
    const done = await runs[0].finishArtifact(new Artifact('sharded', 'dataset'), { aliases: ['complete'] });
    assert.equal(done.version, 'v0');
    assert.equal(done.fileCount, 2);
    assert.ok(done.aliases.includes('complete'));
    for (const r of runs) await r.finish();
  });

  it('aliases and description are saved; an aliased version is not deleted without deleteAliases', async () => {
    const f = path.join(h.work, 'al.txt');
    await writeFile(f, 'alias me');
    const a = new Artifact('aliased', 'model');
    await a.addFile(f);
    await a.log({ client: h.client, project: 'al', aliases: ['best'] });
    a.aliases = ['latest', 'production'];
    a.description = 'final';
    a.metadata = { ap50: 0.5 };
    await a.save();
    const got = await new Api({ client: h.client }).artifact('al/aliased:production');
    assert.equal(got.description, 'final');
    assert.deepEqual(got.metadata, { ap50: 0.5 });
    assert.ok(!got.aliases.includes('best'));
    await assert.rejects(got.delete(), isCode('aliased_version'));
    await got.delete({ deleteAliases: true });
    await assert.rejects(new Api({ client: h.client }).artifact('al/aliased:v0'), isCode('not_found'));
    await assert.rejects(new Artifact('aliased', 'dataset').addFile(f).then(async () => {
      const b = new Artifact('aliased', 'dataset');
      await b.addFile(f);
      return b.log({ client: h.client, project: 'al' });
    }), isCode('type_mismatch'));
  });

  it('runs: history, summary, config, saved files, failed state and lineage query', async () => {
    // No code capture: in a work tree with uncommitted changes it would save code/git.diff beside model.txt.
    const run = await init({ client: h.client, project: 'runs', jobType: 'train', config: { lr: 0.1 }, captureCode: false });
    for (let i = 0; i < 5; i++) run.log({ loss: 1 / (i + 1) });
    run.log({ acc: 0.9 }, { step: 10, commit: true });
    const f = path.join(h.work, 'model.txt');
    await writeFile(f, 'weights');
    await run.save(f);
    await run.flush();
    const hist = await h.client.http.history(run.entity, run.project, run.id);
    assert.equal(hist.items.length, 6);
    const files = await h.client.http.runFiles(run.entity, run.project, run.id);
    assert.deepEqual(files.items.map((x) => x.path), ['model.txt']);
    await run.finish({ failed: true });
    const info = await new Api({ client: h.client }).run(`${run.entity}/runs/${run.id}`);
    assert.equal(info.state, 'failed');
    assert.equal(info.summary.acc, 0.9);
    assert.equal(info.config.lr, 0.1);

    const g = await new Api({ client: h.client }).lineage('rt/mnist-raw:v0', { depth: 2 });
    assert.ok(g.nodes.some((n) => n.kind === 'run' && n.run?.jobType === 'load-data'));
    assert.ok(g.edges.length >= 2);
    const t = await new Api({ client: h.client }).lineage('rt/mnist-raw:v0', { depth: 2, level: 'type' });
    assert.ok(t.nodes.some((n) => n.kind === 'artifactType' && n.label === 'dataset'));
  });

  itEmbedded('errors: bad key, unreachable server, the local server through its discovery file', async () => {
    const bad = new AmphoraHttp({ baseUrl: h.url, apiKey: 'wrong' });
    await assert.rejects(bad.viewer(), isCode('unauthorized'));
    await bad.close();
    await assert.rejects(resolveConnection({ env: { AMPHORA_BASE_URL: 'http://127.0.0.1:9', AMPHORA_API_KEY: 'k' } }), isCode('server_unreachable', /amphora serve/));
    await assert.rejects(resolveConnection({ env: { HOME: h.work } }), isCode('server_unreachable', /amphora serve/));
    const conn = await resolveConnection({ env: { AMPHORA_DATA_DIR: h.dataDir } });
    assert.equal(conn.baseUrl, h.url);
  });
});
