/** The pure parts of the run views: chart arithmetic, config diff, experiments table, gallery, Open Producer Code. */
import assert from 'node:assert/strict';
import type { MetricSeries, Provenance, Run } from '../../src/core/api.js';
import { filterRows, formatDuration, sortRows, toRows, defaultColumns, runDurationMs } from '../../src/core/runs/experiments.js';
import { appendSeries, emaSmooth, forLogScale, metricFilter, nearestIndex, pixelDecimate, toPoints } from '../../src/core/runs/metricSeries.js';
import { matchRepo, normalizeRemote, planProducerCode, relativeToRoot, type LocalRepo } from '../../src/core/runs/producerCode.js';
import { galleryImages, imageSteps, safeMediaKey } from '../../src/core/runs/runMedia.js';
import { diffJson, flattenJson, MAX_CELL_CHARS, renderRunDelta } from '../../src/core/runs/runTables.js';

const series = (step: number[], value: MetricSeries['value'], time = step.map((s) => 1000 + s)): MetricSeries => ({ key: 'loss', total: step.length, downsampled: false, step, time, value });

describe('run charts: smoothing, log scale, decimation', () => {
  it('EMA smoothing is debiased (first point unchanged), keeps NaN gaps without resetting, 0 means none', () => {
    const out = emaSmooth([10, 10, NaN, 10], 0.9);
    assert.equal(out[0], 10);
    assert.ok(Math.abs(out[1] - 10) < 1e-9);
    assert.ok(Number.isNaN(out[2]));
    assert.ok(Math.abs(out[3] - 10) < 1e-9);
    const step = emaSmooth([0, 1, 1, 1], 0.5);
    // TensorBoard: last = 0.5*last + 0.5*y, divided by 1 - 0.5^n
    assert.deepEqual([...step], [0, 0.5 / 0.75, 0.75 / 0.875, 0.875 / 0.9375]);
    assert.deepEqual([...emaSmooth([1, 5, 2], 0)], [1, 5, 2]);
  });

  it('turns MetricValue strings into gaps and sorts points logged at decreasing steps', () => {
    const p = toPoints(series([0, 2, 1], [1, 'NaN', 'Infinity']), 'step');
    assert.deepEqual([...p.xs], [0, 1, 2]);
    assert.ok(Number.isNaN(p.ys[1]) && Number.isNaN(p.ys[2]));
    assert.deepEqual([...toPoints(series([0, 1], [3, 4], [50, 20]), 'time').xs], [20, 50]);
  });

  it('a log scale drops zero and negative values and counts them', () => {
    const r = forLogScale([1, 0, -2, 3, NaN]);
    assert.equal(r.dropped, 2);
    assert.deepEqual([...r.ys].map((v) => (Number.isNaN(v) ? 'gap' : v)), [1, 'gap', 'gap', 3, 'gap']);
  });

  it('pixel decimation keeps each column’s extremes and the gaps, and passes small series through', () => {
    const n = 100_000;
    const xs = Float64Array.from({ length: n }, (_, i) => i);
    const ys = Float64Array.from({ length: n }, (_, i) => Math.sin(i / 100));
    ys[55_555] = 100;
    ys[66_666] = -100;
    ys[70_000] = NaN;
    const idx = pixelDecimate(xs, ys, 0, n - 1, 500);
    assert.ok(idx.length <= 500 * 5, `${idx.length} points`);
    assert.ok(idx.includes(55_555) && idx.includes(66_666) && idx.includes(70_000));
    assert.ok(idx.includes(0) && idx.includes(n - 1));
    assert.deepEqual(idx, [...idx].sort((a, b) => a - b));
    assert.deepEqual(pixelDecimate([0, 1, 2], [1, 2, 3], 0, 2, 500), [0, 1, 2]);
  });

  it('nearest point for the hover read-out', () => {
    assert.equal(nearestIndex([0, 10, 20], 14), 1);
    assert.equal(nearestIndex([0, 10, 20], 16), 2);
    assert.equal(nearestIndex([0, 10, 20], -5), 0);
    assert.equal(nearestIndex([], 3), -1);
  });

  it('live appends add only steps past the last one shown', () => {
    const cur = series([0, 1, 2], [1, 2, 3]);
    const next = appendSeries(cur, series([2, 3, 4], [3, 4, 5]));
    assert.deepEqual(next.step, [0, 1, 2, 3, 4]);
    assert.equal(next.total, 5);
    assert.equal(appendSeries(cur, series([1, 2], [0, 0])), cur);
  });

  it('metric filter: words (all must match, any case) or a /regex/', () => {
    const f = metricFilter('VAL loss');
    assert.ok(f('val/loss') && !f('train/loss'));
    assert.ok(metricFilter('/^train/')('train/acc') && !metricFilter('/^train/')('val/train'));
    assert.ok(metricFilter('/(/')('a/(/b'), 'an invalid regex falls back to words');
    assert.ok(metricFilter('  ')('anything'));
  });
});

describe('run tables: flatten and diff', () => {
  it('flattens nested config to dotted keys, unwraps W&B {value, desc}, skips _internal keys and empty objects', () => {
    const t = flattenJson({ lr: { value: 0.1, desc: 'learning rate' }, opt: { name: 'adam', betas: [0.9, 0.99] }, _wandb: { x: 1 } });
    assert.deepEqual(t.rows, [{ key: 'lr', value: 0.1 }, { key: 'opt.betas', value: [0.9, 0.99] }, { key: 'opt.name', value: 'adam' }]);
    assert.deepEqual(flattenJson({}).rows, []);
  });

  it('a huge config is cut to the key limit and says how many keys it left out', () => {
    const big: Record<string, number> = {};
    for (let i = 0; i < 12_000; i++) big[`k${i}`] = i;
    const t = flattenJson(big);
    assert.equal(t.rows.length, 5_000);
    assert.equal(t.omitted, 7_000);
    const d = diffJson([{ s: 'x'.repeat(10_000) }, {}]);
    assert.equal(d.rows[0].cells[0].length, MAX_CELL_CHARS + 1);
  });

  it('config diff: only the differing keys (absent counts as differing), all on request', () => {
    const d = diffJson([{ lr: 0.1, epochs: 5, seed: 1 }, { lr: 0.01, epochs: 5 }, { lr: 0.1, epochs: 5 }], { onlyDiffering: true });
    assert.equal(d.differing, 2);
    assert.deepEqual(d.rows.map((r) => [r.key, r.cells, r.missing]), [
      ['lr', ['0.1', '0.01', '0.1'], [false, false, false]],
      ['seed', ['1', '', ''], [false, true, true]],
    ]);
    assert.equal(diffJson([{ a: 1 }, { a: 1 }]).rows.length, 1);
    assert.equal(diffJson([{ a: [1, 2] }, { a: [1, 2] }], { onlyDiffering: true }).rows.length, 0);
  });

  it('renders the producers’ config/summary delta for the version diff', () => {
    const text = renderRunDelta({ label: 'a', config: { lr: 0.1, bs: 32 }, summary: { acc: 0.8 } }, { label: 'b', config: { lr: 0.2, bs: 32 }, summary: { acc: 0.8 } });
    assert.equal(text, 'config: 1 key differs\n  ~ lr: 0.1 → 0.2\nsummary: identical');
  });
});

describe('experiments table: sort and filter', () => {
  const run = (id: string, over: Partial<Run>): Run => ({
    entity: 'e', project: 'p', id, name: id, jobType: 'train', group: null, state: 'finished', config: {}, summary: {},
    createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', heartbeatAt: '2026-01-01T00:00:30.000Z', finishedAt: '2026-01-01T00:01:05.000Z', ...over,
  });
  const runs = [
    run('run-2', { config: { lr: 0.01 }, summary: { acc: 0.9 } }),
    run('run-10', { state: 'failed', jobType: 'eval', group: 'g1', config: { lr: 0.1 }, summary: { acc: 'n/a' } }),
    run('run-1', { config: { lr: 0.001 } }),
  ];
  const ids = (rows: ReturnType<typeof toRows>) => rows.map((r) => r.run.id);

  it('sorts numbers numerically, text naturally, missing values last either way', () => {
    const rows = toRows(runs);
    assert.deepEqual(ids(sortRows(rows, 'config.lr', 'asc')), ['run-1', 'run-2', 'run-10']);
    assert.deepEqual(ids(sortRows(rows, 'config.lr', 'desc')), ['run-10', 'run-2', 'run-1']);
    assert.deepEqual(ids(sortRows(rows, 'name', 'asc')), ['run-1', 'run-2', 'run-10']);
    assert.deepEqual(ids(sortRows(rows, 'summary.acc', 'asc')), ['run-2', 'run-10', 'run-1'], 'numbers before text, missing last');
    assert.deepEqual(ids(sortRows(rows, 'summary.acc', 'desc')), ['run-10', 'run-2', 'run-1']);
  });

  it('filters by state, job type, group and name words; offers the common keys as default columns', () => {
    const rows = toRows(runs);
    assert.deepEqual(ids(filterRows(rows, { states: ['failed'] })), ['run-10']);
    assert.deepEqual(ids(filterRows(rows, { jobTypes: ['train'] })), ['run-2', 'run-1']);
    assert.deepEqual(ids(filterRows(rows, { groups: [''] })), ['run-2', 'run-1'], '"" is "no group"');
    assert.deepEqual(ids(filterRows(rows, { text: 'RUN-1' })), ['run-10', 'run-1']);
    assert.deepEqual(defaultColumns(rows), ['config.lr', 'summary.acc']);
  });

  it('durations: finished runs to their end, running ones so far, crashed ones to the last heartbeat', () => {
    assert.equal(formatDuration(runDurationMs(runs[0])), '1m 5s');
    assert.equal(runDurationMs(run('x', { state: 'running', finishedAt: null }), Date.parse('2026-01-01T02:00:00.000Z')), 2 * 3600_000);
    assert.equal(formatDuration(runDurationMs(run('x', { state: 'crashed', finishedAt: null }))), '30s');
  });
});

describe('run gallery', () => {
  it('finds logged images among run files by key and step, with captions from the last value', () => {
    const files = [
      { path: 'media/images/examples_3_0.png', size: 10 },
      { path: 'media/images/examples_1_1.png', size: 10 },
      { path: 'media/images/examples_1_0.png', size: 10 },
      { path: 'media/images/val_img_2_0.jpg', size: 10 },
      { path: 'media/tables/preds_1_0.table.json', size: 10 },
      { path: 'model.pt', size: 10 },
    ];
    const keys = [{ key: 'val img', numeric: false, count: 1, firstStep: 2, lastStep: 2, min: null, max: null, last: { _type: 'image-file', path: 'media/images/val_img_2_0.jpg', caption: 'cat' } }];
    const { images } = galleryImages(files, keys);
    assert.deepEqual(images.map((i) => `${i.key}@${i.step}#${i.index}`), ['examples@1#0', 'examples@1#1', 'examples@3#0', 'val img@2#0']);
    assert.equal(images[3].caption, 'cat');
    assert.deepEqual(imageSteps(images, 'examples'), [1, 3]);
    assert.equal(safeMediaKey('a/b c'), 'a_b_c');
  });
});

describe('Open Producer Code: plan', () => {
  const C = 'c'.repeat(40);
  const prov = (over: Partial<Provenance> = {}, git: Partial<NonNullable<Provenance['git']>> | null = {}): Provenance => ({
    program: 'train.py', root: '/home/alice/mnist',
    git: git === null ? null : { commit: C, branch: 'main', remote: 'https://alice:secret@github.com/alice/mnist.git', dirty: false, diffFile: null, diffTruncated: false, ...git },
    ...over,
  });
  const repo = (root: string, head: string | null = C, remotes: string[] = []): LocalRepo => ({ root, head, remotes });

  it('matches the work tree by path, then remote, then folder name, then the only one', () => {
    assert.equal(matchRepo(prov(), [repo('/x/other'), repo('/home/alice/mnist')])?.root, '/home/alice/mnist');
    assert.equal(matchRepo(prov(), [repo('/x/other'), repo('/w/clone', C, ['git@github.com:alice/mnist.git'])])?.root, '/w/clone');
    assert.equal(matchRepo(prov(), [repo('/x/other'), repo('/w/mnist')])?.root, '/w/mnist');
    assert.equal(matchRepo(prov(), [repo('/x/only')])?.root, '/x/only');
    assert.equal(matchRepo(prov(), [repo('/x/a'), repo('/x/b')]), null);
    assert.equal(normalizeRemote('https://u:p@GitHub.com/a/b.git/'), 'github.com/a/b');
  });

  it('opens the call site in the workspace when HEAD is the recorded commit', () => {
    const plan = planProducerCode({ what: 'model:v1', provenance: prov(), callSite: { file: 'src/train.py', line: 42 }, repos: [repo('/w/mnist')] });
    assert.deepEqual(plan, { kind: 'workspace', path: '/w/mnist/src/train.py', line: 42, note: undefined });
  });

  it('opens the recorded commit when the work tree moved on, and says so when the commit is gone', () => {
    const moved = [repo('/w/mnist', 'd'.repeat(40))];
    assert.deepEqual(planProducerCode({ what: 'model:v1', provenance: prov(), callSite: null, repos: moved, commitExists: () => true }), { kind: 'commit', path: '/w/mnist/train.py', line: 1, commit: C, repoRoot: '/w/mnist' });
    const gone = planProducerCode({ what: 'model:v1', provenance: prov(), callSite: null, repos: moved, commitExists: () => false });
    assert.equal(gone.kind, 'message');
    assert.match((gone as { text: string }).text, /commit cccccccc \(main\), which is not in \/w\/mnist.*git fetch/);
  });

  it('explains no provenance, no git, a folder not open, and a file outside the project', () => {
    assert.match((planProducerCode({ what: 'v', provenance: null, callSite: null, repos: [] }) as { text: string }).text, /no recorded code location/);
    const noGit = planProducerCode({ what: 'v', provenance: prov({}, null), callSite: null, repos: [repo('/w/mnist', null)] });
    assert.equal(noGit.kind, 'workspace');
    assert.match((noGit as { note: string }).note, /recorded no git commit/);
    const notGitHere = planProducerCode({ what: 'v', provenance: prov(), callSite: null, repos: [repo('/w/mnist', null)] });
    assert.match((notGitHere as { note: string }).note, /not a git work tree/);
    assert.match((planProducerCode({ what: 'v', provenance: prov(), callSite: null, repos: [repo('/a/x'), repo('/a/y')] }) as { text: string }).text, /not open here/);
    assert.match((planProducerCode({ what: 'v', provenance: prov(), callSite: { file: '/usr/lib/x.py', line: 3 }, repos: [repo('/w/mnist')] }) as { text: string }).text, /outside the recorded project folder/);
    assert.equal(relativeToRoot('/home/alice/mnist/a/b.py', '/home/alice/mnist/'), 'a/b.py');
    assert.equal(relativeToRoot('./a.py', null), 'a.py');
  });
});

describe('run command arguments and run-file paths', () => {
  it('reads a run from a tree row, a Run or {entity, project, runId}', async () => {
    const { runTargetOf, compareTargetsOf } = await import('../../src/extension/logic/runTargets.js');
    const r = { entity: 'e', project: 'p', id: 'r1', state: 'finished' };
    assert.deepEqual(runTargetOf({ run: r }), { entity: 'e', project: 'p', runId: 'r1' });
    assert.deepEqual(runTargetOf({ entity: 'e', project: 'p', runId: 'r2' }), { entity: 'e', project: 'p', runId: 'r2' });
    assert.equal(runTargetOf({ entity: 'e', project: 'p' }), undefined);
    assert.deepEqual(compareTargetsOf({ run: r }, [{ run: r }, { run: { ...r, id: 'r2' } }]), { entity: 'e', project: 'p', runIds: ['r1', 'r2'] });
    assert.match((compareTargetsOf({ run: r }, [{ run: r }]) as { error: string }).error, /select 2 to 10 runs/);
    assert.match((compareTargetsOf(undefined, [{ run: r }, { run: { ...r, project: 'q', id: 'x' } }]) as { error: string }).error, /different projects/);
    const many = Array.from({ length: 11 }, (_, i) => ({ run: { ...r, id: `r${i}` } }));
    assert.match((compareTargetsOf(many[0], many) as { error: string }).error, /at most 10/);
  });

  it('run files have their own amphora: paths that never parse as a version', async () => {
    const { formatRunFilePath, parseRunFilePath } = await import('../../src/extension/fs/runFileUri.js');
    const { parseAmphoraPath } = await import('../../src/extension/fs/amphoraUri.js');
    const l = { entity: 'e', project: 'p', runId: 'abc', path: 'media/images/x_1_0.png' };
    assert.equal(formatRunFilePath(l), '/e/p/~run/abc/media/images/x_1_0.png');
    assert.deepEqual(parseRunFilePath(formatRunFilePath(l)), l);
    assert.equal(parseRunFilePath('/e/p/model:v1/a.txt'), undefined);
    assert.equal(parseRunFilePath('/e/p/~run/abc/../secret'), undefined);
    assert.throws(() => parseAmphoraPath('/e/p/~run/abc/file'));
  });
});

describe('run webview messages', () => {
  it('accept chart series and refuse malformed points with a message that says where', async () => {
    const { parseExtensionRunMessage } = await import('../../src/core/runViewMessages.js');
    const metrics = (s: Partial<MetricSeries>) => ({ type: 'metrics', mode: 'replace', x: 'step', range: null, runs: [{ runId: 'r', metrics: { runId: 'r', keys: [], notes: [], series: [{ ...series([0, 1], [1, 'NaN']), ...s }] } }] });
    assert.equal(parseExtensionRunMessage(metrics({})).ok, true);
    const bad = parseExtensionRunMessage(metrics({ value: [1, 'nan'] as unknown as MetricSeries['value'] }));
    assert.equal(bad.ok, false);
    assert.match((bad as { error: string }).error, /"metrics".*runs\.0\.metrics\.series\.0\.value.*metric values/);
    assert.match((parseExtensionRunMessage(metrics({ step: [0, -1] })) as { error: string }).error, /steps \(whole numbers ≥ 0\)/);
  });
});
