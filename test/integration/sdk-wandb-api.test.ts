import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Api, Artifact, CommError, EntryNotFoundError, init } from '../../src/client/index.js';
import { Client } from '../../src/client/client.js';
import { AmphoraError } from '../../src/core/errors.js';
import { startHarness, type Harness } from './sdk-harness.js';

/** The SDK's mirror of W&B's Api queries and error types, against a real server. */
describe('sdk: W&B Api queries and error types', function () {
  this.timeout(120_000);
  let h: Harness;
  let api: Api;

  before(async () => {
    h = await startHarness();
    api = new Api({ client: h.client, project: 'ts-api' });
    await mkdir(h.work, { recursive: true });
    for (const [lr, state] of [[0.1, 'finished'], [0.01, 'failed']] as const) {
      const run = await init({ client: h.client, project: 'ts-api', jobType: 'train', config: { lr }, tags: lr > 0.05 ? ['base'] : [] });
      run.log({ acc: lr * 5 });
      const a = new Artifact(lr > 0.05 ? 'one' : 'two', 'dataset');
      const f = path.join(h.work, `f-${lr}.txt`);
      await writeFile(f, String(lr));
      await a.addFile(f);
      await run.logArtifact(a);
      await run.finish({ failed: state === 'failed' });
    }
  });
  after(async () => h?.close());

  it('runs(path, {filters}) uses the shared MongoDB-style rules', async () => {
    const ids = async (filters: Record<string, unknown>) => (await api.runs('ts-api', { filters })).map((r) => r.config.lr);
    assert.deepEqual(await ids({ 'config.lr': { $gt: 0.05 } }), [0.1]);
    assert.deepEqual(await ids({ state: 'failed' }), [0.01]);
    assert.deepEqual(await ids({ tags: 'base', 'summary_metrics.acc': { $gte: 0.5 } }), [0.1]);
    assert.deepEqual((await ids({ $or: [{ state: 'failed' }, { tags: 'base' }] })).sort(), [0.01, 0.1]);
    await assert.rejects(api.runs('ts-api', { filters: { bogus: 1 } }), /Unknown run filter key "bogus"/);
  });

  it('artifactExists, artifactCollections, artifactCollection, artifactTypes', async () => {
    assert.equal(await api.artifactExists('one:v0'), true);
    assert.equal(await api.artifactExists('one:v7'), false);
    assert.equal(await api.artifactExists('nothing-here'), false);
    assert.deepEqual((await api.artifactCollections('ts-api', 'dataset')).map((c) => c.name), ['one', 'two']);
    assert.deepEqual((await api.artifactCollections(`${h.client.entity}/ts-api`, 'model')).map((c) => c.name), []);
    const one = await api.artifactCollection('dataset', 'ts-api/one');
    assert.deepEqual([one.name, one.versionCount, one.aliases.map((a) => a.alias)], ['one', 1, ['latest']]);
    await assert.rejects(api.artifactCollection('model', 'one'), (e: unknown) => e instanceof AmphoraError && e.code === 'type_mismatch');
    assert.deepEqual(await api.artifactTypes('ts-api'), [{ type: 'dataset', collectionCount: 2 }]);
  });

  it('a second entry at a path needs overwrite (addFile), merge (addDir) or a new name (newFile), unless the content is the same', async () => {
    const dir = path.join(h.work, 'ow');
    await mkdir(path.join(dir, 'sub'), { recursive: true });
    await writeFile(path.join(dir, 'a.txt'), 'A');
    await writeFile(path.join(dir, 'b.txt'), 'B');
    await writeFile(path.join(dir, 'same.txt'), 'A');
    const a = new Artifact('ow', 'dataset');
    await a.addFile(path.join(dir, 'a.txt'));
    await a.addFile(path.join(dir, 'a.txt')); // the same file again
    await a.addFile(path.join(dir, 'same.txt'), { name: 'a.txt' }); // other file, same content
    await assert.rejects(a.addFile(path.join(dir, 'b.txt'), { name: 'a.txt' }), /Cannot add the same path twice: "a.txt" is already in artifact 'ow' with other content/);
    await a.addFile(path.join(dir, 'b.txt'), { name: 'a.txt', overwrite: true });
    await writeFile(path.join(dir, 'sub', 'a.txt'), 'other');
    await assert.rejects(a.addDir(path.join(dir, 'sub')), /already in artifact 'ow'/);
    await a.addDir(path.join(dir, 'sub'), { merge: true });
    await assert.rejects(a.newFile('a.txt'), /already holds that path/);
    const f = await a.newFile('a.txt', { overwrite: true });
    await f.write('new');
    await f.close();
    const run = await init({ client: h.client, project: 'ts-api', jobType: 'ow' });
    await run.logArtifact(a);
    await run.finish();
    const dl = await (await api.artifact('ow:v0')).download({ root: path.join(h.work, 'ow-dl') });
    assert.equal(await readFile(path.join(dl.root, 'a.txt'), 'utf8'), 'new');
  });

  it('files(), verify, checkout and newDraft', async () => {
    const one = await api.artifact('one:v0');
    assert.deepEqual((await one.files()).map((f) => [f.path, f.size]), [['f-0.1.txt', 3]]);
    const root = path.join(h.work, 'vc');
    await one.download({ root });
    await one.verify({ root });
    await writeFile(path.join(root, 'stray.txt'), 'x');
    await assert.rejects(one.verify({ root }), /found "stray.txt" in .*which is not a file of/);
    await writeFile(path.join(root, 'f-0.1.txt'), 'changed');
    await one.checkout({ root });
    await one.verify({ root });
    assert.deepEqual((await readdir(root)).sort(), ['f-0.1.txt']);
    await writeFile(path.join(root, 'f-0.1.txt'), 'tampered');
    await assert.rejects(one.verify({ root }), (e: unknown) => e instanceof AmphoraError && e.code === 'digest_mismatch');

    const draft = await one.newDraft();
    await writeFile(path.join(h.work, 'extra.txt'), 'extra');
    await draft.addFile(path.join(h.work, 'extra.txt'));
    const run = await init({ client: h.client, project: 'ts-api', jobType: 'grow' });
    await run.logArtifact(draft);
    await run.finish();
    assert.equal(draft.version, 'v1');
    assert.deepEqual((await (await api.artifact('one:v1')).files()).map((f) => f.path), ['extra.txt', 'f-0.1.txt']);
  });

  it('server and network failures are CommErrors; a missing file is an EntryNotFoundError with the Python message', async () => {
    const err = await api.artifact('absent:latest').catch((e: unknown) => e);
    assert.ok(err instanceof CommError && err.code === 'not_found', String(err));
    const one = await api.artifact('one:v0');
    const missing = await one.getEntry('nope.txt').catch((e: unknown) => e);
    assert.ok(missing instanceof EntryNotFoundError, String(missing));
    assert.equal((missing as Error).message, `Artifact ${h.client.entity}/ts-api/one:v0 has no file "nope.txt"; its files are: f-0.1.txt.`);
    const down = await Client.connect({ baseUrl: 'http://127.0.0.1:9', apiKey: 'x', env: {} }).catch((e: unknown) => e);
    const unreachable = down instanceof Client ? await down.http.projects().catch((e: unknown) => e) : down;
    assert.ok(unreachable instanceof CommError && unreachable.code === 'server_unreachable', String(unreachable));
  });
});
