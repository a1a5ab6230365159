/**
 * TS init({ mode: 'offline' | 'disabled' }): an offline run writes the folder format the Python
 * client writes, and `amphora sync DIR` (dist/cli.mjs) uploads it; a disabled run touches nothing.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Api, Artifact, init } from '../../src/client/index.js';
import { runMode } from '../../src/client/localRun.js';
import { forgetInit } from '../../src/client/sessionDefaults.js';
import { startHarness, type Harness } from './sdk-harness.js';

const execFileP = promisify(execFile);

/** The variables these tests set. Only they are put back: the harness sets others (the team suite's S3 ones) that must stay. */
const TOUCHED = ['AMPHORA_MODE', 'WANDB_MODE', 'AMPHORA_PROJECT', 'AMPHORA_BASE_URL'];

function restoreEnv(snapshot: NodeJS.ProcessEnv): void {
  for (const k of TOUCHED) {
    if (snapshot[k] === undefined) delete process.env[k];
    else process.env[k] = snapshot[k];
  }
}

describe('sdk: offline and disabled runs (W&B modes), synced by amphora sync', function () {
  this.timeout(180_000);
  let h: Harness;
  let saved: NodeJS.ProcessEnv = {};

  before(async () => {
    saved = { ...process.env };
    execFileSync(process.execPath, ['esbuild.mjs'], { stdio: 'ignore' });
    h = await startHarness();
    await mkdir(h.work, { recursive: true });
  });
  after(async () => {
    restoreEnv(saved);
    forgetInit();
    await h?.close();
  });
  afterEach(() => {
    for (const k of ['AMPHORA_MODE', 'WANDB_MODE', 'AMPHORA_PROJECT']) delete process.env[k];
  });

  const sync = async (dir: string) => {
    const { stdout } = await execFileP(process.execPath, ['dist/cli.mjs', '--json', 'sync', dir], {
      env: { PATH: process.env.PATH, HOME: h.work, AMPHORA_BASE_URL: h.url, AMPHORA_API_KEY: h.apiKey, AMPHORA_CACHE_DIR: path.join(h.work, 'cli-cache') },
    });
    return JSON.parse(stdout).items[0] as { state: string; alreadySynced: boolean; artifacts: string[]; applied: number };
  };

  it('records run, history, config/summary, files and logged/used artifacts offline; sync uploads them with versions, aliases, lineage and history', async () => {
    const file = path.join(h.work, 'w.bin');
    await writeFile(file, 'weights v1');
    const offlineDir = path.join(h.work, 'offline');
    const run = await init({ mode: 'offline', dir: offlineDir, project: 'ts-offline', jobType: 'train', id: 'ts_offline-1', config: { lr: 0.1 }, tags: ['nightly'], notes: 'from the train', captureCode: false });
    assert.equal(run.mode, 'offline');
    assert.ok(run.dir?.startsWith(path.join(offlineDir, 'amphora', 'offline-run-')) && run.dir.endsWith('-ts_offline-1'), run.dir ?? 'no dir');

    const raw = new Artifact('ts-raw', 'dataset');
    const nf = await raw.newFile('rows.csv');
    await nf.write('a,b\n1,2\n');
    await nf.close();
    await run.useArtifact(raw); // a draft used offline is logged (without producer) and used at sync
    run.log({ loss: 1.0 });
    run.log({ loss: 0.5, acc: 0.7 });
    await run.updateConfig({ batch: 32 });
    await run.updateSummary({ best: 0.5 });
    const model = new Artifact('ts-weights', 'model', { metadata: { epochs: 2 }, tags: ['candidate'] });
    await model.addFile(file);
    await run.logArtifact(model, { aliases: ['best'] });
    // Edits after logging do not change what is synced: the folder holds a copy.
    await writeFile(file, 'weights changed later');
    await writeFile(path.join(h.work, 'notes.md'), 'notes');
    await run.save(path.join(h.work, 'notes.md'));
    await assert.rejects(run.useArtifact('ts-weights:latest'), /offline/);
    await assert.rejects(run.loggedArtifacts(), /amphora sync/);
    await assert.rejects(run.linkArtifact(model, 'wandb-registry-model/x'), /offline/);
    await run.finish();
    assert.equal(run.state, 'finished');

    const api = new Api({ client: h.client, project: 'ts-offline' });
    assert.equal(await api.artifactExists('ts-offline/ts-weights:latest'), false, 'nothing reached the server yet');
    assert.ok((await readdir(path.join(run.dir!, 'blobs'))).length >= 3);

    const first = await sync(run.dir!);
    assert.deepEqual([first.state, first.alreadySynced], ['finished', false]);
    assert.deepEqual(first.artifacts.sort(), ['ts-offline/ts-raw:v0', 'ts-offline/ts-weights:v0']);

    const got = await api.run('ts-offline/ts_offline-1');
    assert.deepEqual([got.jobType, got.config, got.summary.best, got.tags, got.notes], ['train', { lr: 0.1, batch: 32 }, 0.5, ['nightly'], 'from the train']);
    const history = await h.client.http.history(h.client.entity, 'ts-offline', 'ts_offline-1');
    assert.deepEqual(history.items.map((r) => [r.step, r.data]), [[0, { loss: 1 }], [1, { loss: 0.5, acc: 0.7 }]]);
    assert.deepEqual((await h.client.http.runFiles(h.client.entity, 'ts-offline', 'ts_offline-1')).items.map((f) => f.path), ['notes.md']);

    const w = await api.artifact('ts-weights:best');
    assert.deepEqual([w.name, w.aliases.sort(), w.metadata, w.tags], ['ts-weights:v0', ['best', 'latest'], { epochs: 2 }, ['candidate']]);
    assert.equal((await w.loggedBy())?.id, 'ts_offline-1');
    const { root } = await w.download({ root: path.join(h.work, 'dl') });
    assert.equal(await readFile(path.join(root, 'w.bin'), 'utf8'), 'weights v1');
    const used = await api.artifact('ts-raw:v0');
    assert.deepEqual((await used.usedBy()).map((r) => r.id), ['ts_offline-1']);
    assert.equal(await used.loggedBy(), null);
    assert.deepEqual((await h.client.http.runInputs(h.client.entity, 'ts-offline', 'ts_offline-1')).items.map((v) => v.name), ['ts-raw']);

    const again = await sync(run.dir!);
    assert.equal(again.alreadySynced, true);
    assert.equal((await h.client.http.history(h.client.entity, 'ts-offline', 'ts_offline-1')).items.length, 2);
  });

  it('a TS offline folder has the Python layout: run.json (format 1) and events in call order', async () => {
    const run = await init({ mode: 'offline', dir: path.join(h.work, 'layout'), project: 'ts-layout', captureCode: false });
    run.log({ x: 1 });
    await run.finish({ failed: true });
    const record = JSON.parse(await readFile(path.join(run.dir!, 'run.json'), 'utf8'));
    assert.deepEqual([record.format, record.project, record.id], [1, 'ts-layout', run.id]);
    const events = (await readFile(path.join(run.dir!, 'events.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => e.op), ['history', 'patch']);
    assert.equal(events[1].body.state, 'failed');
    assert.equal((await sync(run.dir!)).state, 'failed');
  });

  it('AMPHORA_MODE / WANDB_MODE choose the mode as in Python; a bad mode is an error naming where it came from', async () => {
    process.env.WANDB_MODE = 'offline';
    const run = await init({ project: 'ts-env', dir: path.join(h.work, 'env'), captureCode: false });
    assert.equal(run.mode, 'offline');
    await run.finish();
    process.env.AMPHORA_MODE = 'disabled';
    assert.equal(runMode(undefined), 'disabled', 'AMPHORA_MODE wins over WANDB_MODE');
    assert.equal(runMode('online'), 'online', 'the argument wins over the environment');
    assert.equal(runMode(undefined, { WANDB_MODE: 'shared' }), 'online');
    assert.throws(() => runMode(undefined, { AMPHORA_MODE: 'dryrun' }), /AMPHORA_MODE must be "online", "offline" or "disabled", got "dryrun"/);
    await assert.rejects(init({ mode: 'nope' as 'online' }), /init\(\{ mode \}\) must be/);
  });

  it('disabled: every call is a no-op that returns working objects, without any server', async () => {
    const noServer = { ...process.env };
    process.env.AMPHORA_BASE_URL = 'http://127.0.0.1:9'; // nothing listens: any request would fail
    try {
      const run = await init({ mode: 'disabled', project: 'ts-disabled', config: { lr: 1 }, tags: ['t'] });
      assert.deepEqual([run.mode, run.dir, run.project, run.config], ['disabled', null, 'ts-disabled', { lr: 1 }]);
      run.log({ loss: 0.25 });
      assert.equal(run.summary.loss, 0.25);
      const a = new Artifact('d', 'dataset');
      await writeFile(path.join(h.work, 'd.txt'), 'd');
      await a.addFile(path.join(h.work, 'd.txt'));
      assert.equal(await run.logArtifact(a, { aliases: ['x'] }), a);
      assert.equal(a.logged, false);
      const used = await run.useArtifact('some-data:latest', { type: 'dataset' });
      assert.deepEqual([used.name, used.type], ['some-data', 'dataset']);
      assert.deepEqual([await run.loggedArtifacts(), await run.usedArtifacts()], [[], []]);
      assert.equal(await run.linkArtifact(a, 'wandb-registry-model/m'), a);
      await run.save(path.join(h.work, 'd.txt'));
      await run.updateSummary({ best: 1 });
      await run.finish();
      assert.equal(run.state, 'finished');
      assert.throws(() => run.client.http, /disabled/);
      await assert.rejects(stat(path.join(process.cwd(), 'amphora', 'offline-run-')), /ENOENT/);
    } finally {
      restoreEnv(noServer);
    }
  });
});
