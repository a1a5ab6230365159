import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Api, Artifact, init } from '../../src/client/index.js';
import { AmphoraError } from '../../src/core/errors.js';
import { startHarness, type Harness } from './sdk-harness.js';

const isCode = (code: string) => (e: unknown) => e instanceof AmphoraError && e.code === code;

/** The SDK's mirror of W&B's Registry, define_metric and log step rules, against a real server. */
describe('sdk: registries, defineMetric and W&B step rules', function () {
  this.timeout(120_000);
  let h: Harness;
  const file = async (name: string, text: string) => {
    await mkdir(h.work, { recursive: true });
    const p = path.join(h.work, name);
    await writeFile(p, text);
    return p;
  };

  before(async () => {
    h = await startHarness();
  });
  after(async () => h?.close());

  it('links a draft through the run: own vN and aliases, the source lineage, used through the link', async () => {
    const run = await init({ client: h.client, project: 'ts-reg', jobType: 'train' });
    const model = new Artifact('net', 'model');
    await model.addFile(await file('w.bin', 'weights'));
    const link = await run.linkArtifact(model, 'wandb-registry-model/classifier', { aliases: ['staging'] });
    await run.finish();
    assert.equal(model.version, 'v0');
    assert.equal(link.isLink, true);
    assert.deepEqual([link.project, link.name, link.version, link.sourceName], ['wandb-registry-model', 'classifier:v0', 'v0', 'net:v0']);
    assert.deepEqual(link.aliases, ['latest', 'staging']);
    assert.equal(link.sourceQualifiedName, `${h.client.entity}/ts-reg/net:v0`);
    assert.equal(link.qualifiedName(), `${h.client.entity}/wandb-registry-model/classifier:v0`);
    assert.equal((await link.loggedBy())?.id, run.id);
    const again = await model.link('model-registry/classifier', { aliases: ['prod'] });
    assert.deepEqual(again.aliases, ['latest', 'prod', 'staging']);

    const consumer = await init({ client: h.client, project: 'ts-serve', jobType: 'serve' });
    const used = await consumer.useArtifact('wandb-registry-model/classifier:prod');
    const { root } = await used.download({ root: path.join(h.work, 'dl') });
    assert.equal(await readFile(path.join(root, 'w.bin'), 'utf8'), 'weights');
    await consumer.finish();
    assert.deepEqual((await model.usedBy()).map((r) => r.id), [consumer.id]);
    await assert.rejects(model.link('just-a-name'), isCode('invalid_reference'));
    await assert.rejects(model.link('wandb-registry-nope/x'), isCode('not_found'));
  });

  it('logModel, useModel and linkModel', async () => {
    const run = await init({ client: h.client, project: 'ts-models', jobType: 'train' });
    const p = await file('model.h5', 'Model: 0.5');
    const logged = await run.logModel(p, { name: 'mnist-model', aliases: ['candidate'] });
    assert.deepEqual([logged.type, logged.name, logged.version], ['model', 'mnist-model:v0', 'v0']);
    const linked = await run.linkModel(p, 'MNIST');
    assert.deepEqual([linked.project, linked.name, linked.collectionName, linked.sourceName], ['wandb-registry-model', 'MNIST:v0', 'MNIST', `run-${run.id}-model.h5:v0`]);
    const local = await run.useModel('mnist-model:candidate');
    assert.equal(path.basename(local), 'model.h5');
    assert.equal(await readFile(local, 'utf8'), 'Model: 0.5');
    const data = new Artifact('plain-data', 'dataset');
    await data.addFile(p);
    await run.logArtifact(data);
    await assert.rejects(run.useModel('plain-data:latest'), isCode('type_mismatch'));
    await assert.rejects(run.linkModel(p, 'team/MNIST'), isCode('invalid_request'));
    await run.finish();
  });

  it('creates, saves, lists and deletes registries; saved types stay', async () => {
    const api = new Api({ client: h.client });
    const reg = await api.createRegistry('ts-evals', { visibility: 'restricted', description: 'evals', artifactTypes: ['dataset'] });
    assert.deepEqual([reg.name, reg.fullName, reg.allowAllArtifactTypes], ['ts-evals', 'wandb-registry-ts-evals', false]);
    await assert.rejects(api.createRegistry('ts-evals', { visibility: 'organization' }), isCode('conflict'));
    reg.artifactTypes.push('model');
    reg.description = 'evals and models';
    await reg.save();
    const got = await api.registry('ts-evals');
    assert.deepEqual([got.description, got.artifactTypes], ['evals and models', ['dataset', 'model']]);
    got.artifactTypes = ['model'];
    await assert.rejects(got.save(), isCode('invalid_request'));
    const run = await init({ client: h.client, project: 'ts-evals-src', jobType: 'x' });
    const ds = new Artifact('golden', 'dataset');
    await ds.addFile(await file('g.txt', 'g'));
    await run.linkArtifact(ds, 'wandb-registry-ts-evals/golden-set');
    await run.finish();
    assert.deepEqual((await got.collections()).map((c) => c.name), ['golden-set']);
    assert.deepEqual((await got.versions()).map((v) => v.sourceName), ['golden:v0']);
    assert.ok((await api.registries()).some((r) => r.name === 'ts-evals'));
    await got.delete();
    assert.ok(!(await api.registries()).some((r) => r.name === 'ts-evals'));
  });

  it('log(): commit false accumulates, a lower step is dropped with a warning; defineMetric summaries', async () => {
    const run = await init({ client: h.client, project: 'ts-metrics', jobType: 'train' });
    run.defineMetric('loss', { summary: 'min' });
    run.defineMetric('loss', { summary: 'max' });
    run.defineMetric('val/*', { stepMetric: 'epoch', summary: 'mean' });
    assert.throws(() => run.defineMetric('x', { hidden: true }), isCode('unsupported'));
    assert.throws(() => run.defineMetric('x', { summary: 'best' }), isCode('invalid_request'));
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      run.log({ loss: 0.9, epoch: 0 }, { commit: false });
      run.log({ acc: 0.5 }); // joins step 0, commits
      run.log({ 'val/loss': 0.8 }); // step 1, gets epoch 0
      run.log({ loss: 0.3, epoch: 1 }, { step: 5 });
      run.log({ loss: 0.6 }, { step: 2 }); // lower than 5: dropped
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    await run.finish();
    assert.ok(warnings.some((w) => /less than the current step 5/.test(w)), warnings.join('\n'));
    const hist = await h.client.http.history(run.entity, run.project, run.id);
    assert.deepEqual(
      hist.items.map((r) => [r.step, r.data]),
      [
        [0, { loss: 0.9, epoch: 0, acc: 0.5 }],
        [1, { 'val/loss': 0.8, epoch: 0 }],
        [5, { loss: 0.3, epoch: 1 }],
      ],
    );
    const info = await new Api({ client: h.client }).run(run.path);
    assert.deepEqual(info.summary.loss, { min: 0.3, max: 0.9 });
    assert.deepEqual(info.summary['val/loss'], { mean: 0.8 });
    assert.equal(info.summary.acc, 0.5);
  });
});
