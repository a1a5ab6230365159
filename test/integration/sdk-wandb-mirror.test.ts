import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { init, Artifact, Api, resetDefaultClient } from '../../src/client/index.js';
import { forgetInit } from '../../src/client/sessionDefaults.js';

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

  it('init stores tags and notes; run ids may hold "-" and "_"; Api({project}) wins over the last init', async () => {
    const run = await init({ project: 'tagged', id: 'Run_with-dash', tags: ['baseline', 'baseline', 'gpu'], notes: 'first try' });
    await run.finish();
    const got = await new Api().run('Run_with-dash');
    assert.deepEqual([got.project, got.tags, got.notes], ['tagged', ['baseline', 'gpu'], 'first try']);
    await assert.rejects(new Api({ project: 'artifacts-example' }).run('Run_with-dash'), /not found|no run|Run_with-dash/i);
  });
});
