import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { init, Artifact, Api, resetDefaultClient } from '../../src/client/index.js';
import { forgetInit } from '../../src/client/sessionDefaults.js';

const execFileP = promisify(execFile);

/** The TypeScript SDK mirror of the W&B drop-in: the README's snippet as written, run tags/notes, Api defaults. */
describe('sdk: W&B mirror (README snippet against a real server)', function () {
  this.timeout(120_000);
  let base: string;
  let server: { url: string; apiKey: string; close(): Promise<void> };
  const saved = { cwd: process.cwd(), env: { ...process.env } };

  before(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'amphora-mirror-'));
    const { startServer } = await import('../../src/server/index.js');
    server = await startServer({ dataDir: path.join(base, 'data'), host: '127.0.0.1', port: 0, quiet: true, logLevel: 'silent' });
    for (const k of ['AMPHORA_PROJECT', 'AMPHORA_ENTITY']) delete process.env[k];
    Object.assign(process.env, { AMPHORA_BASE_URL: server.url, AMPHORA_API_KEY: server.apiKey, AMPHORA_CACHE_DIR: path.join(base, 'cache') });
    await resetDefaultClient();
    forgetInit();
    process.chdir(base);
  });
  after(async () => {
    process.chdir(saved.cwd);
    for (const k of ['AMPHORA_BASE_URL', 'AMPHORA_API_KEY', 'AMPHORA_CACHE_DIR']) delete process.env[k];
    Object.assign(process.env, saved.env);
    await resetDefaultClient();
    forgetInit();
    await server?.close();
    await rm(base, { recursive: true, force: true });
  });

  it('runs the README TypeScript snippet as written: new Api() looks in the last init project', async () => {
    const seed = await init({ project: 'artifacts-example', jobType: 'preprocess-data' });
    const pre = new Artifact('mnist-preprocess', 'dataset');
    await writeFile(path.join(base, 'training.pt'), 'tensors');
    await pre.addFile('training.pt');
    await seed.logArtifact(pre);
    await seed.finish();
    forgetInit(); // the snippet starts in a fresh process
    await writeFile(path.join(base, 'model.pt'), 'weights');

    // ---- README snippet, unchanged below this line
    const run = await init({ project: 'artifacts-example', jobType: 'train' });
    const data = await run.useArtifact('mnist-preprocess:latest');
    const { root } = await data.download(); // ./artifacts/mnist-preprocess:v0
    const model = new Artifact('trained-model', 'model', { metadata: { epochs: 5 } });
    await model.addFile('model.pt');
    await run.logArtifact(model, { aliases: ['best'] });
    await run.finish();
    const producer = await (await new Api().artifact('trained-model:best')).loggedBy();
    // ---- end of snippet

    assert.equal(root, path.join(base, 'artifacts', 'mnist-preprocess:v0'));
    assert.equal(producer?.id, run.id);
  });

  it('artifact tags and ttlSeconds are stored and saved; removing latest by hand works as in W&B', async () => {
    const run = await init({ project: 'mirror' });
    await writeFile(path.join(base, 'm.txt'), 'm');
    const a = new Artifact('tagged', 'dataset', { tags: ['raw'], ttlSeconds: 3600 });
    await a.addFile('m.txt');
    await run.logArtifact(a, { tags: ['eu'] });
    await run.finish();
    assert.deepEqual([a.tags, a.ttlSeconds, a.aliases], [['raw', 'eu'], 3600, ['latest']]);
    a.tags.push('checked');
    a.ttlSeconds = null;
    a.aliases = [];
    await a.save();
    const got = await new Api().artifact('tagged:v0');
    assert.deepEqual([got.tags, got.ttlSeconds, got.aliases], [['raw', 'eu', 'checked'], null, []]);
    await assert.rejects(new Api().artifact('tagged:latest'), /latest/);
    await got.delete(); // no alias left: no deleteAliases needed
  });

  it('Artifact.name is name:vN once logged (bare for a draft), as W&B; collectionName, sourceName, qualifiedName agree', async () => {
    const run = await init({ project: 'named' });
    await writeFile(path.join(base, 'n.txt'), 'n');
    const a = new Artifact('named-data', 'dataset');
    assert.equal(a.name, 'named-data');
    assert.equal(a.sourceName, 'named-data');
    await a.addFile('n.txt');
    await run.logArtifact(a);
    await run.finish();
    const ent = run.entity;
    assert.deepEqual([a.name, a.collectionName, a.version, a.sourceName], ['named-data:v0', 'named-data', 'v0', 'named-data:v0']);
    assert.equal(a.qualifiedName(), `${ent}/named/named-data:v0`);
    assert.equal(a.sourceQualifiedName, a.qualifiedName());
    const got = await new Api().artifact('named/named-data:latest');
    assert.deepEqual([got.name, got.collectionName, got.qualifiedName()], ['named-data:v0', 'named-data', `${ent}/named/named-data:v0`]);
    const draft = await got.newDraft();
    assert.deepEqual([draft.name, draft.collectionName, draft.version], ['named-data', 'named-data', undefined]);
  });

  it('runs the README TypeScript block itself, read from README.md (import path pointed at this checkout)', async () => {
    const readme = await readFile(path.join(saved.cwd, 'README.md'), 'utf8');
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'README.md has a ```ts block');
    const client = pathToFileURL(path.join(saved.cwd, 'src', 'client', 'index.ts')).href;
    const script = block.replace("'./src/client/index.js'", JSON.stringify(client)) + '\nconsole.log(JSON.stringify({ root, producer: producer?.id, run: run.id, name: model.name }));\n';
    assert.notEqual(script, block, 'the block imports ./src/client/index.js');
    const dir = await mkdtemp(path.join(base, 'readme-'));
    await writeFile(path.join(dir, 'snippet.mts'), script);
    await writeFile(path.join(dir, 'model.pt'), 'weights of the README run'); // new content: a new version, not the earlier test's
    const tsx = path.join(saved.cwd, 'node_modules', 'tsx', 'dist', 'loader.mjs');
    const { stdout } = await execFileP(process.execPath, ['--import', pathToFileURL(tsx).href, 'snippet.mts'], { cwd: dir, env: { ...process.env, AMPHORA_PROJECT: '' } });
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    assert.equal(out.root, path.join(dir, 'artifacts', 'mnist-preprocess:v0'));
    assert.equal(out.producer, out.run);
    assert.match(out.name, /^trained-model:v\d+$/);
  });

  it('isDraft, wait, updatedAt, get(name), download pathPrefix / allowMissingReferences, Api.artifacts(tags) and artifactType, as in Python', async () => {
    const run = await init({ project: 'mirror-more' });
    const dir = await mkdtemp(path.join(base, 'bundle-'));
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'sub', 'a.txt'), 'a');
    await writeFile(path.join(dir, 'sub', 'b.txt'), 'b');
    await writeFile(path.join(dir, 'top.txt'), 'top');
    const gone = path.join(base, 'gone.txt');
    await writeFile(gone, 'soon gone');
    const a = new Artifact('bundle', 'dataset');
    assert.equal(a.isDraft(), true);
    await assert.rejects(a.wait(), /not logged yet/);
    await a.addDir(dir);
    const stats = await a.newFile('stats.json');
    await stats.write(JSON.stringify({ rows: 3 }));
    await stats.close();
    await a.addReference(pathToFileURL(gone).href, { name: 'ref/gone.txt' });
    await run.logArtifact(a, { tags: ['eu'] });
    await run.finish();
    assert.equal(a.isDraft(), false);
    assert.equal(await a.wait(), a);
    assert.ok(a.updatedAt && Date.parse(a.updatedAt) >= Date.parse(a.createdAt!));
    assert.deepEqual(await a.get('stats'), { rows: 3 });
    assert.equal(await a.get('nothing'), null);
    await rm(gone);
    await assert.rejects(a.download({ root: path.join(base, 'dl-all') }), /gone\.txt/);
    const sub = await a.download({ root: path.join(base, 'dl-sub'), pathPrefix: 'sub/' });
    assert.deepEqual((await readdir(sub.root, { recursive: true })).sort(), ['sub', 'sub/a.txt', 'sub/b.txt']);
    const rest = await a.download({ root: path.join(base, 'dl-rest'), allowMissingReferences: true });
    const got = (await readdir(rest.root, { recursive: true })).sort();
    assert.deepEqual(got.filter((p) => p.includes('.')), ['stats.json', 'sub/a.txt', 'sub/b.txt', 'top.txt'], 'every stored file, the gone reference skipped');
    const api = new Api();
    assert.deepEqual((await api.artifacts('dataset', 'mirror-more/bundle', { tags: 'eu' })).map((v) => v.name), ['bundle:v0']);
    assert.deepEqual(await api.artifacts('dataset', 'mirror-more/bundle', { tags: ['eu', 'us'] }), []);
    assert.deepEqual(await api.artifactType('dataset', 'mirror-more'), { type: 'dataset', collectionCount: 1 });
    // perPage is the page size of the listing requests, as W&B's per_page.
    for (let i = 1; i <= 4; i++) {
      const more = new Artifact('bundle', 'dataset');
      await writeFile(path.join(base, `more-${i}.txt`), `more ${i}`);
      await more.addFile(path.join(base, `more-${i}.txt`));
      await more.log({ project: 'mirror-more' });
    }
    const requests: string[] = [];
    const counted = new Api({ connection: { baseUrl: server.url, apiKey: server.apiKey, cacheDir: path.join(base, 'cache-counted'), env: {}, onRequest: (m, p) => requests.push(`${m} ${p}`) } });
    assert.deepEqual((await counted.artifacts('dataset', 'mirror-more/bundle', { perPage: 2 })).map((v) => v.version), ['v4', 'v3', 'v2', 'v1', 'v0']);
    assert.equal(requests.filter((r) => /\/versions(\?|$)/.test(r)).length, 3, requests.join('\n'));
    await assert.rejects(counted.artifacts('dataset', 'mirror-more/bundle', { perPage: 0 }), /perPage must be a whole number from 1 to 1000, not 0/);
    await assert.rejects(api.artifactType('model', 'mirror-more'), /has no artifacts of type "model"/);
  });

  it('init stores tags and notes; run ids may hold "-" and "_"; Api({project}) wins over the last init', async () => {
    const run = await init({ project: 'tagged', id: 'Run_with-dash', tags: ['baseline', 'baseline', 'gpu'], notes: 'first try' });
    await run.finish();
    const got = await new Api().run('Run_with-dash');
    assert.deepEqual([got.project, got.tags, got.notes], ['tagged', ['baseline', 'gpu'], 'first try']);
    await assert.rejects(new Api({ project: 'artifacts-example' }).run('Run_with-dash'), /not found|no run|Run_with-dash/i);
  });
});
