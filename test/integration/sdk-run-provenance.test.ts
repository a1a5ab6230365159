/** The TypeScript SDK records code provenance and call sites, sends NaN/Infinity, reads metrics (issue 11). */
import assert from 'node:assert/strict';
import { Artifact } from '../../src/client/artifact.js';
import { captureProvenance } from '../../src/client/provenance.js';
import { init } from '../../src/client/run.js';
import { startHarness, type Harness } from './sdk-harness.js';

/** This file's line that called the function that called lineHere(). */
const lineHere = () => Number(/:(\d+):\d+\)?$/.exec(new Error().stack!.split('\n')[2])![1]);

describe('sdk: provenance, call sites and metrics of a run', function () {
  this.timeout(120_000);
  let h: Harness;
  before(async () => (h = await startHarness()));
  after(async () => h?.close());

  it('init records the program and its git state; logArtifact and useArtifact record the calling lines', async () => {
    const expected = await captureProvenance();
    const run = await init({ client: h.client, project: 'prov', jobType: 'train' });
    assert.deepEqual(run.provenance, expected.provenance);
    const stored = await h.client.http.getRun(run.entity, run.project, run.id);
    assert.deepEqual(stored.provenance, expected.provenance);
    const files = (await h.client.http.runFiles(run.entity, run.project, run.id)).items.map((f) => f.path);
    assert.equal(files.includes('code/git.diff'), expected.diff !== null, `run files: ${files.join(', ')}`);

    const art = new Artifact('prov-data', 'dataset');
    const fa = await art.newFile('a.txt');
    await fa.write('a');
    await fa.close();
    const logLine = lineHere() + 1;
    await run.logArtifact(art);
    const useLine = lineHere() + 1;
    await run.useArtifact('prov-data:latest');
    const me = expected.provenance.root ? 'test/integration/sdk-run-provenance.test.ts' : undefined;
    const out = (await h.client.http.runOutputs(run.entity, run.project, run.id)).items[0];
    assert.equal(out.callSite?.line, logLine);
    const inputs = (await h.client.http.runInputs(run.entity, run.project, run.id)).items;
    assert.equal(inputs[0].usedAt?.line, useLine);
    if (me && expected.provenance.git) {
      assert.equal(out.callSite?.file, me);
      assert.equal(inputs[0].usedAt?.file, me);
    }
    await run.finish();
  });

  it('captureCode: false records no provenance and no call sites', async () => {
    const run = await init({ client: h.client, project: 'prov', jobType: 'plain', captureCode: false });
    assert.equal(run.provenance, null);
    const art = new Artifact('prov-plain', 'dataset');
    const fb = await art.newFile('b.txt');
    await fb.write('b');
    await fb.close();
    await run.logArtifact(art);
    assert.equal((await h.client.http.runOutputs(run.entity, run.project, run.id)).items[0].callSite, null);
    await run.finish();
  });

  it('log() sends NaN and ±Infinity as their strings (JSON would turn them into null); client.runMetrics reads them back', async () => {
    const run = await init({ client: h.client, project: 'prov', jobType: 'nan', captureCode: false });
    run.log({ loss: 1 });
    run.log({ loss: NaN, nested: { v: Infinity } });
    run.log({ loss: -Infinity });
    await run.finish();
    const m = await h.client.runMetrics(run.entity, run.project, run.id, { keys: 'loss' });
    assert.deepEqual(m.series[0].value, [1, 'NaN', '-Infinity']);
    assert.ok(m.notes.some((n) => n.startsWith('loss: 1 NaN value')));
    const rows = (await h.client.http.history(run.entity, run.project, run.id)).items;
    assert.deepEqual(rows[1].data, { loss: 'NaN', nested: { v: 'Infinity' } });
  });

  it('log() sends compact columns; a batch the server did not take (one refusal, stubbed) stays buffered, flush() rejects, the next flush sends it', async () => {
    const run = await init({ client: h.client, project: 'prov', jobType: 'columns', captureCode: false });
    const http = h.client.http;
    const real = http.appendHistory.bind(http);
    const bodies: unknown[] = [];
    let refuse = true;
    http.appendHistory = async (e, p, id, body) => {
      bodies.push(body);
      if (refuse) {
        refuse = false;
        throw new Error('connection reset (stand-in for a failed request)');
      }
      return real(e, p, id, body);
    };
    try {
      run.log({ loss: 0.5, acc: 1, note: 'a' });
      run.log({ loss: NaN, acc: 2 });
      await assert.rejects(run.flush(), /connection reset/);
      run.log({ loss: 0.25, acc: 3 });
      await run.finish();
    } finally {
      http.appendHistory = real;
    }
    assert.ok(bodies.every((b) => typeof b === 'object' && b !== null && 'columns' in b && !('rows' in b)), JSON.stringify(bodies).slice(0, 300));
    const rows = (await http.history(run.entity, run.project, run.id)).items;
    assert.deepEqual(rows.map((r) => [r.step, r.data]), [
      [0, { loss: 0.5, acc: 1, note: 'a' }],
      [1, { loss: 'NaN', acc: 2 }],
      [2, { loss: 0.25, acc: 3 }],
    ]);
  });
});
