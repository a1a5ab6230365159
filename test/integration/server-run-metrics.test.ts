/**
 * Runs in the editor, data side: the metrics route (keys, x, min/max, points, bad values, NaN,
 * non-numeric and out-of-order rows), history rows, the run.logged event, code provenance and
 * call sites, and the migration that moved run_history into batches and per-key chunks.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { RunMetrics, ServerEvent } from '../../src/core/api.js';
import { HISTORY_ROWS_FROM_CHUNKS_STEP, HISTORY_STORAGE_STEP } from '../../src/server/store/migrations.js';
import { startTestServer, TEAM_DB, type TestServer } from './server-helpers.js';

const P = 'charts';

/** Collects the server's events until `stop()`. */
async function listen(s: TestServer) {
  const ac = new AbortController();
  const seen: ServerEvent[] = [];
  const res = await fetch(`${s.server.url}/api/v1/events`, { headers: { authorization: `Bearer ${s.server.apiKey}` }, signal: ac.signal });
  assert.equal(res.status, 200);
  const reading = (async () => {
    const dec = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) !== -1) {
          for (const line of buf.slice(0, i).split('\n')) if (line.startsWith('data: ')) seen.push(ServerEvent.parse(JSON.parse(line.slice(6))));
          buf = buf.slice(i + 2);
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    seen,
    async until(pred: (e: ServerEvent) => boolean, ms = 5000) {
      const end = Date.now() + ms;
      while (!seen.some(pred)) {
        if (Date.now() > end) throw new Error(`no matching event within ${ms} ms; saw ${JSON.stringify(seen)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return seen.find(pred)!;
    },
    async stop() {
      ac.abort();
      await reading;
    },
  };
}

describe('server: run metrics, history storage, provenance (issue 11)', function () {
  this.timeout(120_000);
  let s: TestServer;
  let e: string;
  const runs = () => `/api/v1/projects/${e}/${P}/runs`;
  const newRun = async (body: Record<string, unknown> = {}) => {
    const r = await s.api.post(runs(), body);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.id as string;
  };
  const metrics = async (id: string, query = '') => {
    const r = await s.api.get(`${runs()}/${id}/metrics${query}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return RunMetrics.parse(r.body);
  };

  type Query = (sql: string, p?: unknown[]) => Promise<Record<string, unknown>[]>;
  /** Stops the server, runs `fn` on its database, starts a new server on it (whose stop() cleans up after both). */
  const withServerStopped = async (fn: (q: Query) => Promise<void>): Promise<void> => {
    await s.server.close();
    if (TEAM_DB) {
      const c = new pg.Client({ connectionString: s.dbUrl });
      await c.connect();
      try {
        await fn(async (sql, p) => (await c.query(sql, p)).rows);
      } finally {
        await c.end();
      }
    } else {
      const db = await PGlite.create(join(s.dir, 'db'));
      try {
        await fn(async (sql, p) => (await db.query<Record<string, unknown>>(sql, p)).rows);
      } finally {
        await db.close();
      }
    }
    const first = s;
    const next = await startTestServer({ dataDir: first.dir, ...(first.dbUrl ? { db: first.dbUrl } : {}) });
    // next.dbUrl names the (unused) database its helper made; the server runs on first's.
    s = { ...next, dbUrl: first.dbUrl, stop: async () => {
      await next.stop();
      await first.stop().catch(() => undefined); // its server is closed already; this removes its data
    } };
  };

  before(async () => {
    s = await startTestServer();
    e = await s.api.entity();
  });
  after(async () => s?.stop());

  it('serves downsampled series that keep the extremes, the first and the last point; min/max zoom to full detail', async () => {
    const id = await newRun();
    const t0 = Date.parse('2026-01-01T00:00:00.000Z');
    const rows = Array.from({ length: 5000 }, (_, i) => ({
      step: i,
      at: new Date(t0 + i * 1000).toISOString(),
      data: { loss: i === 1234 ? -50 : i === 4321 ? 99 : Math.sin(i / 50), acc: i / 5000 },
    }));
    for (let i = 0; i < rows.length; i += 1000) assert.equal((await s.api.post(`${runs()}/${id}/history`, { rows: rows.slice(i, i + 1000) })).status, 200);

    const all = await metrics(id);
    assert.deepEqual(all.keys.map((k) => [k.key, k.numeric, k.count, k.firstStep, k.lastStep]), [['acc', true, 5000, 0, 4999], ['loss', true, 5000, 0, 4999]]);
    const lossKey = all.keys.find((k) => k.key === 'loss')!;
    assert.equal(lossKey.min, -50);
    assert.equal(lossKey.max, 99);
    assert.equal(lossKey.last, Math.sin(4999 / 50));
    const loss = all.series.find((x) => x.key === 'loss')!;
    assert.equal(loss.total, 5000);
    assert.equal(loss.downsampled, true);
    assert.ok(loss.step.length <= 1000 && loss.step.length > 500, `${loss.step.length} points`);
    assert.equal(loss.step[0], 0);
    assert.equal(loss.step[loss.step.length - 1], 4999);
    assert.ok(loss.step.includes(1234) && loss.step.includes(4321), 'the extremes survive downsampling');
    assert.equal(loss.value[loss.step.indexOf(1234)], -50);
    assert.deepEqual(loss.step, [...loss.step].sort((a, b) => a - b));
    assert.equal(loss.time[loss.step.indexOf(4321)], t0 + 4321 * 1000);

    const one = await metrics(id, '?keys=loss&points=100');
    assert.deepEqual(one.series.map((x) => x.key), ['loss']);
    assert.ok(one.series[0].step.length <= 100);
    assert.equal(one.keys.length, 2, 'the key list is always complete');

    // A coarse chart (here 10 points for 5,000) reads the chunks' overviews: same extremes, same ends, same total.
    const coarse = (await metrics(id, '?keys=loss&points=10')).series[0];
    assert.equal(coarse.total, 5000);
    assert.equal(coarse.downsampled, true);
    assert.ok(coarse.step.length <= 10);
    assert.deepEqual([coarse.step[0], coarse.step[coarse.step.length - 1]], [0, 4999]);
    assert.ok(coarse.step.includes(1234) && coarse.step.includes(4321), JSON.stringify(coarse.step));

    const zoom = await metrics(id, '?keys=loss&min=1200&max=1300');
    assert.equal(zoom.series[0].total, 101);
    assert.equal(zoom.series[0].downsampled, false);
    assert.deepEqual(zoom.series[0].step, Array.from({ length: 101 }, (_, i) => 1200 + i));

    const byTime = await metrics(id, `?keys=acc&x=time&min=${t0 + 10_000}&max=${t0 + 19_000}`);
    assert.deepEqual(byTime.series[0].step, [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });

  it('keeps NaN and ±Infinity (sent as strings) as MetricValue strings with a note; lists non-numeric keys without charting them', async () => {
    const id = await newRun();
    const rows = [
      { step: 0, data: { loss: 1.5, phase: 'warmup', img: { _type: 'image-file', path: 'media/images/a.png' } } },
      { step: 1, data: { loss: 'NaN', phase: 'train' } },
      { step: 2, data: { loss: 'Infinity' } },
      { step: 3, data: { loss: '-Infinity', mixed: 1 } },
      { step: 4, data: { loss: 0.5, mixed: 'oops' } },
    ];
    assert.equal((await s.api.post(`${runs()}/${id}/history`, { rows })).status, 200);
    const m = await metrics(id);
    const keys = Object.fromEntries(m.keys.map((k) => [k.key, k]));
    assert.equal(keys.loss.numeric, true);
    assert.equal(keys.loss.min, 0.5);
    assert.equal(keys.loss.max, 1.5);
    assert.equal(keys.phase.numeric, false);
    assert.equal(keys.phase.last, 'train');
    assert.equal(keys.phase.count, 2);
    assert.deepEqual(keys.img.last, { _type: 'image-file', path: 'media/images/a.png' });
    assert.deepEqual(m.series.map((x) => x.key).sort(), ['loss', 'mixed'], 'only keys with numbers are charted by default');
    const loss = m.series.find((x) => x.key === 'loss')!;
    assert.deepEqual(loss.value, [1.5, 'NaN', 'Infinity', '-Infinity', 0.5]);
    assert.ok(m.notes.some((n) => /^loss: 1 NaN value is shown as a gap|^loss: 1 NaN value/.test(n)), m.notes.join(' | '));
    assert.ok(m.notes.some((n) => n.startsWith('loss: 2 infinite values')), m.notes.join(' | '));
    assert.ok(m.notes.some((n) => n.startsWith('mixed: 1 non-numeric value')), m.notes.join(' | '));

    const asked = await metrics(id, '?keys=phase,nope');
    assert.deepEqual(asked.series.map((x) => [x.key, x.total]), [['phase', 0], ['nope', 0]]);
    assert.ok(asked.notes.some((n) => n.startsWith('phase:') && /not numbers/.test(n)));
    assert.ok(asked.notes.some((n) => n.startsWith('nope:') && /no such key/.test(n)));

    const hist = await s.api.get(`${runs()}/${id}/history`);
    assert.deepEqual(hist.body.items.map((r: { data: unknown }) => r.data), rows.map((r) => r.data), 'history rows come back as logged');
  });

  it('counts NaN and infinite values that a coarse chart reads only through overviews', async () => {
    const id = await newRun();
    const rows = Array.from({ length: 6000 }, (_, i) => ({ step: i, data: { v: i % 100 === 7 ? 'NaN' : i % 1000 === 9 ? 'Infinity' : i } }));
    for (let i = 0; i < rows.length; i += 3000) assert.equal((await s.api.post(`${runs()}/${id}/history`, { rows: rows.slice(i, i + 3000) })).status, 200);
    for (const q of ['?points=10', '?points=100000']) {
      const m = await metrics(id, q);
      assert.equal(m.series[0].total, 6000, q);
      assert.ok(m.notes.includes('v: 60 NaN values are shown as gaps.'), `${q}: ${m.notes.join(' | ')}`);
      assert.ok(m.notes.includes('v: 6 infinite values are shown as gaps.'), `${q}: ${m.notes.join(' | ')}`);
    }
    const coarse = (await metrics(id, '?points=10')).series[0];
    assert.deepEqual([coarse.value[0], coarse.value[coarse.value.length - 1]], [0, 5999]);
    assert.ok(coarse.value.includes('NaN'), 'a gap survives');
  });

  it('answers sensibly for rows that arrive at decreasing steps: sorted by step, with a note', async () => {
    const id = await newRun();
    await s.api.post(`${runs()}/${id}/history`, { rows: [{ step: 10, data: { x: 10 } }, { step: 11, data: { x: 11 } }] });
    await s.api.post(`${runs()}/${id}/history`, { rows: [{ step: 5, data: { x: 5 } }, { step: 12, data: { x: 12 } }] });
    const m = await metrics(id);
    assert.deepEqual(m.series[0].step, [5, 10, 11, 12]);
    assert.deepEqual(m.series[0].value, [5, 10, 11, 12]);
    assert.equal(m.keys[0].last, 12);
    assert.ok(m.notes.some((n) => n.startsWith('x: some points arrived at a lower step')), m.notes.join(' | '));
  });

  it('serves history rows as they were logged: numbers, NaN/±Infinity, strings, objects, empty rows, arrival order, bounds and limit', async () => {
    const id = await newRun();
    const at = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
    const sent = [
      { step: 0, data: { loss: 2.5, acc: 0, note: 'start' }, at: at(0) },
      { step: 1, data: { loss: 'NaN', acc: 'Infinity', img: { _type: 'image-file', path: 'media/images/a.png' } }, at: at(1) },
      { step: 2, data: {}, at: at(2) },
      { step: 3, data: { loss: -1e-300, acc: '-Infinity', flag: true, none: null, list: [1, 'a'] }, at: at(3) },
    ];
    await s.api.post(`${runs()}/${id}/history`, { rows: sent });
    // A small second batch (appended to the open chunks) with a lower step, then a big one.
    const more = [{ step: 1, data: { loss: 7 }, at: at(4) }];
    const big = Array.from({ length: 300 }, (_, i) => ({ step: 10 + i, data: { loss: i / 3, acc: i, ...(i % 100 === 0 ? { note: `n${i}` } : {}) }, at: at(5 + i) }));
    await s.api.post(`${runs()}/${id}/history`, { rows: more });
    await s.api.post(`${runs()}/${id}/history`, { rows: big });
    const all = (await s.api.get(`${runs()}/${id}/history?limit=1000`)).body.items;
    assert.deepEqual(all, [...sent, ...more, ...big]);
    const bounded = (await s.api.get(`${runs()}/${id}/history?minStep=1&maxStep=11&limit=4`)).body.items;
    assert.deepEqual(bounded, [sent[1], sent[2], sent[3], more[0]]);
    assert.deepEqual((await s.api.get(`${runs()}/${id}/history?minStep=300`)).body.items, big.slice(290));
  });

  it('takes batches in compact columns (base64 float64 per key, other cells by row) and refuses malformed ones with 400, storing nothing', async () => {
    const id = await newRun();
    const f64 = (xs: number[]) => Buffer.from(new Float64Array(xs).buffer).toString('base64');
    const t0 = Date.UTC(2026, 0, 1);
    const columns = { step: [0, 1, 2], time: [t0, t0 + 1, t0 + 2], numbers: { loss: f64([1, NaN, -Infinity]) }, other: { 1: { note: 'x', acc: 0.5 } } };
    assert.equal((await s.api.post(`${runs()}/${id}/history`, { columns })).status, 200);
    for (const [bad, re] of [
      [{ ...columns, time: [t0] }, /"time" has 1 entries but "step" has 3/],
      [{ ...columns, time: [t0, t0, 1e300] }, /time/],
      [{ ...columns, numbers: { loss: f64([1, 2]) } }, /holds 16 bytes; 3 rows need 24/],
      [{ ...columns, numbers: { loss: 'not base64!' } }, /base64/],
      [{ ...columns, other: { 5: { a: 1 } } }, /row 5, but the batch has 3 rows/],
      [{ ...columns, other: { 0: { loss: 2 } } }, /"loss" is in "numbers".*also in "other" row 0/],
    ] as const) {
      const r = await s.api.post(`${runs()}/${id}/history`, { columns: bad });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.error.message, re);
    }
    const both = await s.api.post(`${runs()}/${id}/history`, { columns, rows: [{ step: 9, data: {} }] });
    assert.equal(both.status, 400);
    assert.match(both.body.error.message, /either "rows" or "columns"/);
    const rows = (await s.api.get(`${runs()}/${id}/history`)).body.items;
    assert.deepEqual(rows, [
      { step: 0, data: { loss: 1 }, at: new Date(t0).toISOString() },
      { step: 1, data: { loss: 'NaN', note: 'x', acc: 0.5 }, at: new Date(t0 + 1).toISOString() },
      { step: 2, data: { loss: '-Infinity' }, at: new Date(t0 + 2).toISOString() },
    ]);
    const m = await metrics(id);
    assert.deepEqual(m.series.find((x) => x.key === 'loss')!.value, [1, 'NaN', '-Infinity']);
    assert.deepEqual(m.keys.find((k) => k.key === 'loss')!.last, '-Infinity');
  });

  it('stores a batch once: per-key chunks plus the non-numeric cells, no row text', async () => {
    const id = await newRun();
    await s.api.post(`${runs()}/${id}/history`, { rows: [{ step: 0, data: { loss: 1, note: 'a' } }, { step: 1, data: { loss: 2 } }] });
    await s.api.post(`${runs()}/${id}/history`, { rows: [{ step: 2, data: { loss: 3 } }] });
    let stored: Record<string, unknown>[] = [];
    await withServerStopped(async (q) => {
      stored = await q('SELECT rows, first_ord, row_count, other FROM run_history_batches WHERE run_id = $1 ORDER BY seq', [id]);
    });
    assert.deepEqual(stored.map((b) => [b.rows, Number(b.first_ord), Number(b.row_count), b.other]), [
      [null, 0, 2, JSON.stringify({ 0: { note: 'a' } })],
      [null, 2, 1, null],
    ]);
    assert.deepEqual((await s.api.get(`${runs()}/${id}/history`)).body.items.map((r: { data: unknown }) => r.data), [{ loss: 1, note: 'a' }, { loss: 2 }, { loss: 3 }]);
  });

  it('a run with no history: no keys, no series, not an error', async () => {
    const id = await newRun();
    const m = await metrics(id);
    assert.deepEqual([m.keys, m.series, m.notes], [[], [], []]);
    assert.equal(m.runId, id);
  });

  it('refuses bad query values with 400 and a message naming the problem; 404 for an unknown run', async () => {
    const id = await newRun();
    for (const [q, re] of [
      ['?min=10&max=5', /min \(10\) is greater than max \(5\)/],
      ['?points=5', /points/],
      ['?points=many', /points/],
      ['?x=epoch', /x/],
      ['?min=abc', /min/],
      ['?keys=,,', /names no metric/],
    ] as const) {
      const r = await s.api.get(`${runs()}/${id}/metrics${q}`);
      assert.equal(r.status, 400, `${q}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'invalid_request');
      assert.match(r.body.error.message, re, q);
    }
    const missing = await s.api.get(`${runs()}/nosuchrun/metrics`);
    assert.equal(missing.status, 404);
    assert.match(missing.body.error.message, /no run "nosuchrun"/);
    const badAt = await s.api.post(`${runs()}/${id}/history`, { rows: [{ step: 0, data: { a: 1 }, at: 'yesterday' }] });
    assert.equal(badAt.status, 400);
    assert.match(badAt.body.error.message, /not an ISO-8601 timestamp/);
    assert.deepEqual((await metrics(id)).keys, [], 'a refused batch stores nothing');
  });

  it('refuses a 10 MB config with 413 and a message saying where large values belong; keeps the run as it was', async () => {
    const big = { table: 'x'.repeat(10 * 1024 * 1024) };
    const created = await s.api.post(runs(), { config: big });
    assert.equal(created.status, 413, JSON.stringify(created.body).slice(0, 300));
    assert.equal(created.body.error.code, 'payload_too_large');
    assert.match(created.body.error.message, /config would be 10\.0 MiB; at most 2 MiB .*run file/);
    const id = await newRun({ config: { lr: 0.1 } });
    // Key-by-key merges that together cross the limit are refused too.
    const half = 'y'.repeat(1_200_000);
    assert.equal((await s.api.patch(`${runs()}/${id}`, { config: { a: half } })).status, 200);
    const second = await s.api.patch(`${runs()}/${id}`, { config: { b: half } });
    assert.equal(second.status, 413);
    const run = (await s.api.get(`${runs()}/${id}`)).body;
    assert.deepEqual(Object.keys(run.config).sort(), ['a', 'lr']);
    const summary = await s.api.patch(`${runs()}/${id}`, { summary: { blob: 'z'.repeat(3 * 1024 * 1024) } });
    assert.equal(summary.status, 413);
    assert.match(summary.body.error.message, /run summary/);
  });

  it('announces run.logged with the highest stored step when history rows arrive', async () => {
    const id = await newRun();
    const ev = await listen(s);
    try {
      await s.api.post(`${runs()}/${id}/history`, { rows: [{ step: 0, data: { a: 1 } }, { step: 7, data: { a: 2 } }] });
      const got = await ev.until((x) => x.type === 'run.logged' && x.runId === id);
      assert.deepEqual(got, { type: 'run.logged', entity: e, project: P, runId: id, lastStep: 7 });
      await s.api.post(`${runs()}/${id}/history`, { rows: [{ step: 3, data: { a: 3 } }] });
      await ev.until((x) => x.type === 'run.logged' && x.runId === id && ev.seen.filter((y) => y.type === 'run.logged' && y.runId === id).length === 2);
      const last = ev.seen.filter((y) => y.type === 'run.logged' && y.runId === id).pop()!;
      assert.equal(last.type === 'run.logged' && last.lastStep, 7, 'lastStep is the highest step stored, not the last one sent');
    } finally {
      await ev.stop();
    }
  });

  it('stores provenance on runs, the logging line on versions and the using line on inputs', async () => {
    const provenance = {
      program: 'train.py',
      root: '/home/me/proj',
      git: { commit: 'a'.repeat(40), branch: 'main', remote: 'https://example.com/me/proj.git', dirty: true, diffFile: 'code/git.diff', diffTruncated: false },
    };
    const created = await s.api.post(runs(), { jobType: 'train', provenance });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body.provenance, provenance);
    const id = created.body.id as string;
    assert.deepEqual((await s.api.get(`${runs()}/${id}`)).body.provenance, provenance);
    assert.equal((await s.api.post(runs(), { jobType: 'train' })).body.provenance, null, 'no provenance recorded: null');

    const logged = await s.api.logVersion(P, 'data', 'dataset', { 'a.txt': 'a' }, { runId: id, callSite: { file: 'train.py', line: 12 } });
    assert.equal(logged.status, 201, JSON.stringify(logged.body));
    assert.deepEqual(logged.body.version.callSite, { file: 'train.py', line: 12 });
    const consumer = await newRun({ jobType: 'eval' });
    const used = await s.api.post(`${runs()}/${consumer}/inputs`, { ref: 'data:latest', callSite: { file: 'eval.py', line: 3 } });
    assert.equal(used.status, 200);
    await s.api.post(`${runs()}/${consumer}/inputs`, { ref: 'data:latest', callSite: { file: 'eval.py', line: 99 } });
    const inputs = (await s.api.get(`${runs()}/${consumer}/inputs`)).body.items;
    assert.deepEqual(inputs.map((v: { usedAt: unknown; callSite: unknown }) => [v.usedAt, v.callSite]), [[{ file: 'eval.py', line: 3 }, { file: 'train.py', line: 12 }]]);
    const outputs = (await s.api.get(`${runs()}/${id}/outputs`)).body.items;
    assert.deepEqual(outputs[0].callSite, { file: 'train.py', line: 12 });
    assert.equal(outputs[0].usedAt, undefined);

    const bad = await s.api.post(runs(), { provenance: { ...provenance, git: { ...provenance.git, commit: 'not-a-sha' } } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /commit/);
    const escape = await s.api.post(runs(), { provenance: { ...provenance, git: { ...provenance.git, diffFile: '../x.diff' } } });
    assert.equal(escape.status, 400);
    const badLine = await s.api.post(`${runs()}/${consumer}/inputs`, { ref: 'data:latest', callSite: { file: 'eval.py', line: 0 } });
    assert.equal(badLine.status, 400);
  });

  it('the call site of a distributed version is the first upsert\'s line', async () => {
    const id = await newRun({ group: 'g1' });
    const blob = Buffer.from('part');
    const { sha256 } = await import('./server-helpers.js');
    await s.api.putBlob(blob);
    const up = await s.api.post(`/api/v1/projects/${e}/${P}/artifacts/shards/pending/g1`, {
      type: 'dataset', runId: id, manifest: { 'p.txt': { digest: sha256(blob), size: blob.length } }, callSite: { file: 'shard.py', line: 8 },
    });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    const fin = await s.api.post(`/api/v1/projects/${e}/${P}/artifacts/shards/pending/g1/finish`, { runId: id });
    assert.equal(fin.status, 201, JSON.stringify(fin.body));
    assert.deepEqual(fin.body.version.callSite, { file: 'shard.py', line: 8 });
  });

  it('the migrations carry run_history rows over into batches and per-key chunks, and new rows join them', async () => {
    const id = await newRun();
    const projectId = async (q: Query) => Number((await q('SELECT id FROM projects WHERE entity = $1 AND name = $2', [e, P]))[0].id);
    // Put the database back to just before the steps: the old table with rows, not the new ones.
    const replay = async (q: Query) => {
      const pid = await projectId(q);
      await q('DELETE FROM schema_migrations WHERE step = ANY($1)', [[HISTORY_STORAGE_STEP, HISTORY_ROWS_FROM_CHUNKS_STEP]]);
      await q('DROP TABLE run_history_batches');
      await q('DROP TABLE run_metric_chunks');
      await q(`CREATE TABLE run_history (project_id bigint NOT NULL, run_id text NOT NULL, seq bigserial, step integer NOT NULL, data jsonb NOT NULL,
                 at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (project_id, run_id, seq))`);
      const rows: [number, unknown, string][] = [
        [0, { loss: 2, tag: 'a' }, '2026-01-01T00:00:00.000Z'],
        [1, { loss: 'NaN' }, '2026-01-01T00:00:01.000Z'],
        [3, { loss: 1, tag: 'b' }, '2026-01-01T00:00:03.000Z'],
        [2, { loss: 1.5 }, '2026-01-01T00:00:02.000Z'],
      ];
      for (const [step, data, at] of rows) await q('INSERT INTO run_history (project_id, run_id, step, data, at) VALUES ($1, $2, $3, $4, $5)', [pid, id, step, JSON.stringify(data), at]);
    };
    await withServerStopped(replay);
    {
      const m = await metrics(id);
      const keys = Object.fromEntries(m.keys.map((k) => [k.key, k]));
      assert.deepEqual([keys.loss.count, keys.loss.min, keys.loss.max, keys.loss.last, keys.loss.lastStep], [4, 1, 2, 1, 3]);
      assert.deepEqual([keys.tag.numeric, keys.tag.count, keys.tag.last], [false, 2, 'b']);
      const loss = m.series.find((x) => x.key === 'loss')!;
      assert.deepEqual(loss.step, [0, 1, 2, 3]);
      assert.deepEqual(loss.value, [2, 'NaN', 1.5, 1]);
      assert.deepEqual(loss.time, [0, 1, 2, 3].map((i) => Date.parse('2026-01-01T00:00:00.000Z') + i * 1000));
      const hist = (await s.api.get(`${runs()}/${id}/history`)).body.items;
      assert.deepEqual(hist.map((r: { step: number }) => r.step), [0, 1, 3, 2], 'rows keep their logged order');
      assert.equal(hist[2].at, '2026-01-01T00:00:03.000Z');
      assert.deepEqual(hist[0].data, { loss: 2, tag: 'a' });
      // New rows after the migration join the carried-over ones (in the chart and in the rows).
      await s.api.post(`${runs()}/${id}/history`, { rows: [{ step: 4, data: { loss: 0.5, tag: 'c' }, at: '2026-01-01T00:00:04.000Z' }] });
      assert.deepEqual((await metrics(id, '?keys=loss')).series[0].step, [0, 1, 2, 3, 4]);
      const after = (await s.api.get(`${runs()}/${id}/history`)).body.items;
      assert.deepEqual(after.map((r: { step: number }) => r.step), [0, 1, 3, 2, 4]);
      assert.deepEqual(after[4], { step: 4, data: { loss: 0.5, tag: 'c' }, at: '2026-01-01T00:00:04.000Z' });
      assert.deepEqual((await s.api.get(`${runs()}/${id}/history?minStep=2&maxStep=4&limit=2`)).body.items.map((r: { step: number }) => r.step), [3, 2]);
    }
  });
});
