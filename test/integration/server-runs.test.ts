import assert from 'node:assert/strict';
import { ServerEvent } from '../../src/core/api.js';
import { waitFor } from '../support/waitFor.js';
import { sha256, startTestServer, type TestServer } from './server-helpers.js';

describe('server: runs, heartbeats, lineage (SPEC §1)', function () {
  this.timeout(60_000);
  let s: TestServer;
  let e: string;
  const P = 'pipeline';
  const runs = () => `/api/v1/projects/${e}/${P}/runs`;

  before(async () => {
    s = await startTestServer({ heartbeatTimeoutMs: 400 });
    e = await s.api.entity();
  });
  after(async () => s?.stop());

  it('creates runs with a short random id and an adjective-noun-N name; merges config and summary', async () => {
    const r1 = await s.api.post(runs(), { jobType: 'load-data', config: { lr: 0.1 } });
    assert.equal(r1.status, 201);
    assert.match(r1.body.id, /^[a-z0-9]{8}$/);
    assert.match(r1.body.name, /^[a-z]+-[a-z]+-1$/);
    const r2 = await s.api.post(runs(), { jobType: 'train' });
    assert.match(r2.body.name, /^[a-z]+-[a-z]+-2$/);
    const upd = await s.api.patch(`${runs()}/${r1.body.id}`, { config: { epochs: 3 }, summary: { acc: 0.9 } });
    assert.deepEqual(upd.body.config, { lr: 0.1, epochs: 3 });
    assert.deepEqual(upd.body.summary, { acc: 0.9 });
    const fin = await s.api.patch(`${runs()}/${r1.body.id}`, { summary: { loss: 0.2 }, state: 'finished' });
    assert.equal(fin.body.state, 'finished');
    assert.ok(fin.body.finishedAt);
    assert.deepEqual(fin.body.summary, { acc: 0.9, loss: 0.2 });
    const list = await s.api.get(`${runs()}?jobType=train`);
    assert.deepEqual(list.body.items.map((r: { id: string }) => r.id), [r2.body.id]);
    await s.api.patch(`${runs()}/${r2.body.id}`, { state: 'failed' });
  });

  it('marks a run that stops heartbeating as crashed, and announces it on the event stream', async () => {
    const ac = new AbortController();
    const seen: ServerEvent[] = [];
    const stream = await fetch(`${s.server.url}/api/v1/events`, { headers: { authorization: `Bearer ${s.server.apiKey}` }, signal: ac.signal });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /text\/event-stream/);
    const reading = (async () => {
      const dec = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) {
          buf += dec.decode(chunk, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) !== -1) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            for (const line of block.split('\n')) if (line.startsWith('data: ')) seen.push(ServerEvent.parse(JSON.parse(line.slice(6))));
          }
        }
      } catch {
        // aborted
      }
    })();
    const alive = (await s.api.post(runs(), { jobType: 'beating' })).body;
    const silent = (await s.api.post(runs(), { jobType: 'silent' })).body;
    // One run beats back to back (each beat well inside the 400 ms timeout) until the other is
    // announced as crashed: the sweep has run at least once past the silent run's deadline.
    let beating = true;
    const beats = (async () => {
      while (beating) assert.equal((await s.api.post(`${runs()}/${alive.id}/heartbeat`)).status, 200);
    })();
    try {
      await waitFor('the silent run to be announced as crashed', () => seen.some((ev) => ev.type === 'run.updated' && ev.run.id === silent.id && ev.run.state === 'crashed'));
    } finally {
      beating = false;
      await beats;
    }
    assert.equal((await s.api.get(`${runs()}/${silent.id}`)).body.state, 'crashed');
    assert.equal((await s.api.get(`${runs()}/${alive.id}`)).body.state, 'running');
    await s.api.patch(`${runs()}/${alive.id}`, { state: 'finished' });
    await waitFor('the finish to be announced', () => seen.some((ev) => ev.type === 'run.updated' && ev.run.id === alive.id && ev.run.state === 'finished'));
    ac.abort();
    await reading;
  });

  it('appends and lists history; attaches blob-backed run files', async () => {
    const run = (await s.api.post(runs(), { jobType: 'train' })).body;
    const h = await s.api.post(`${runs()}/${run.id}/history`, { rows: [{ step: 0, data: { loss: 1 } }, { step: 1, data: { loss: 0.5 } }] });
    assert.deepEqual(h.body, { appended: 2 });
    const list = await s.api.get(`${runs()}/${run.id}/history`);
    assert.deepEqual(list.body.items.map((r: { data: unknown }) => r.data), [{ loss: 1 }, { loss: 0.5 }]);
    const missing = await s.api.req('PUT', `${runs()}/${run.id}/files`, { files: [{ path: 'model.py', digest: sha256('code'), size: 4 }] });
    assert.equal(missing.status, 409);
    await s.api.putBlob('code');
    const files = await s.api.req('PUT', `${runs()}/${run.id}/files`, { files: [{ path: 'model.py', digest: sha256('code'), size: 4 }] });
    assert.deepEqual(files.body.items, [{ path: 'model.py', digest: sha256('code'), size: 4 }]);
    const bad = await s.api.req('PUT', `${runs()}/${run.id}/files`, { files: [{ path: '../x', digest: sha256('code'), size: 4 }] });
    assert.equal(bad.status, 400);
    await s.api.patch(`${runs()}/${run.id}`, { state: 'finished' });
  });

  it('records inputs and outputs; lineage at instance and type level', async () => {
    const load = (await s.api.post(runs(), { jobType: 'load-data' })).body;
    const raw = (await s.api.logVersion(P, 'mnist-raw', 'dataset', { 'train.bin': 'raw' }, { runId: load.id })).body.version;
    const pre = (await s.api.post(runs(), { jobType: 'preprocess-data' })).body;
    const used = await s.api.post(`${runs()}/${pre.id}/inputs`, { ref: 'mnist-raw:latest' });
    assert.equal(used.body.id, raw.id);
    assert.equal((await s.api.post(`${runs()}/${pre.id}/inputs`, { ref: 'mnist-raw:v0' })).status, 200, 'idempotent');
    const prep = (await s.api.logVersion(P, 'mnist-preprocess', 'dataset', { 'train.bin': 'prep' }, { runId: pre.id })).body.version;
    const train = (await s.api.post(runs(), { jobType: 'train' })).body;
    await s.api.post(`${runs()}/${train.id}/inputs`, { ref: `${e}/${P}/mnist-preprocess:v0` });
    const model = (await s.api.logVersion(P, 'trained-model', 'model', { 'w.bin': 'weights' }, { runId: train.id })).body.version;

    assert.equal(raw.producerRun.id, load.id);
    assert.deepEqual((await s.api.get(`${runs()}/${pre.id}/inputs`)).body.items.map((v: { id: string }) => v.id), [raw.id]);
    assert.deepEqual((await s.api.get(`${runs()}/${pre.id}/outputs`)).body.items.map((v: { id: string }) => v.id), [prep.id]);
    const consumers = await s.api.get(`/api/v1/projects/${e}/${P}/artifacts/mnist-raw/versions/v0/consumers`);
    assert.deepEqual(consumers.body.items.map((r: { id: string }) => r.id), [pre.id]);

    const lineage = `/api/v1/projects/${e}/${P}/lineage`;
    const g = (await s.api.get(`${lineage}?node=artifact:${prep.id}&depth=1`)).body;
    assert.deepEqual(new Set(g.nodes.map((n: { id: string }) => n.id)), new Set([`artifact:${prep.id}`, `run:${pre.id}`, `run:${train.id}`]));
    assert.equal(g.truncated, true);
    const labels = g.nodes.map((n: { label: string }) => n.label);
    assert.ok(labels.includes('dataset:mnist-preprocess:v0'));
    assert.ok(labels.includes(`preprocess-data:${pre.name}`));

    const full = (await s.api.get(`${lineage}?node=run:${load.id}&depth=10`)).body;
    assert.equal(full.nodes.length, 6);
    assert.equal(full.edges.length, 5);
    assert.equal(full.truncated, false);
    assert.deepEqual(
      full.edges.find((x: { kind: string; source: string }) => x.source === `run:${load.id}`),
      { source: `run:${load.id}`, target: `artifact:${raw.id}`, kind: 'output' },
    );
    const up = (await s.api.get(`${lineage}?node=artifact:${model.id}&depth=10&direction=upstream`)).body;
    assert.equal(up.nodes.length, 6);
    const down = (await s.api.get(`${lineage}?node=artifact:${model.id}&depth=10&direction=downstream`)).body;
    assert.equal(down.nodes.length, 1);

    const types = (await s.api.get(`${lineage}?node=run:${load.id}&depth=10&level=type`)).body;
    assert.equal(types.level, 'type');
    const ids = types.nodes.map((n: { id: string }) => n.id).sort();
    assert.deepEqual(ids, ['artifactType:dataset', 'artifactType:model', 'jobType:load-data', 'jobType:preprocess-data', 'jobType:train']);
    assert.equal(types.nodes.find((n: { id: string }) => n.id === 'artifactType:dataset').count, 2);
    assert.equal(types.focus, 'jobType:load-data');
    const whole = (await s.api.get(`${lineage}?level=type`)).body;
    assert.ok(whole.edges.some((x: { source: string; target: string }) => x.source === 'artifactType:dataset' && x.target === 'jobType:train'));
    const bad = await s.api.get(`${lineage}?node=banana`);
    assert.equal(bad.status, 400);
    assert.equal((await s.api.get(`${lineage}?node=run:nosuchrun`)).status, 404);
    for (const r of [load, pre, train]) await s.api.patch(`${runs()}/${r.id}`, { state: 'finished' });
  });
});
