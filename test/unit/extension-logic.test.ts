import assert from 'node:assert/strict';
import type { ArtifactVersion } from '../../src/core/api.js';
import { AmphoraError } from '../../src/core/errors.js';
import { buildFileTree, pageOf } from '../../src/extension/logic/fileTree.js';
import { defaultDownloadFolder, groupByJobType, impactOf, parseAliasList, parseListeningLine, suggestName } from '../../src/extension/logic/events.js';
import { formatAge, formatBytes, lensTitle, metadataTable, versionMarkdown, versionRowDescription } from '../../src/extension/logic/format.js';
import { chooseProject, projectFromSource, projectProblem } from '../../src/extension/logic/project.js';
import { positionOf, referenceAt, scanReferences } from '../../src/extension/logic/references.js';
import { ReferenceResolver, type ResolverBackend } from '../../src/extension/logic/resolver.js';

const NOW = Date.parse('2026-01-10T12:00:00Z');
function version(over: Partial<ArtifactVersion> = {}): ArtifactVersion {
  return {
    id: 'id1', entity: 'me', project: 'mnist', name: 'mnist-raw', type: 'dataset', version: 'v3', index: 3,
    digest: 'a'.repeat(64), size: 55_000_000, fileCount: 3, aliases: ['best', 'latest'], description: 'raw MNIST',
    metadata: { source: 'keras', rows: 70000 }, state: 'committed', createdAt: new Date(NOW - 2 * 3600_000).toISOString(),
    updatedAt: new Date(NOW).toISOString(), producerRun: { id: 'r1', name: 'sunny-smoke-1', jobType: 'load-data' }, ...over,
  };
}

describe('extension logic: reference scanning', () => {
  it('finds every call form with offsets of the text inside the quotes', () => {
    const src = [
      'import amphora as wandb',
      'run = wandb.init(project="mnist")',
      'a = run.use_artifact("mnist-raw:latest")',
      "b = run.useArtifact('model:v2')",
      'c = api.artifact("team/proj/x:best", type="model")',
      'd = wandb.Api().artifact("y")',
      'e = Api().artifact(name="z:v0")',
      'f = run.use_artifact(f"data:{alias}")',
      'g = run.use_artifact(variable)',
      'h = api.artifact_versions("dataset", "n")',
    ].join('\n');
    const found = scanReferences(src);
    assert.deepEqual(found.map((f) => f.text), ['mnist-raw:latest', 'model:v2', 'team/proj/x:best', 'y', 'z:v0']);
    for (const f of found) assert.equal(src.slice(f.start, f.end), f.text);
    assert.deepEqual(found.map((f) => f.call), ['use_artifact', 'useArtifact', 'artifact', 'artifact', 'artifact']);
    assert.equal(found[2].parsed?.project, 'proj');
    assert.equal(found[3].parsed?.selector, 'latest');
    assert.deepEqual(positionOf(src, found[0].start), { line: 2, character: 22 });
  });
  it('keeps invalid references with the parser\'s message, and skips template substitutions', () => {
    const found = scanReferences('useArtifact(`a:${x}`); useArtifact("bad name:v1"); useArtifact(`ok:v1`)');
    assert.deepEqual(found.map((f) => f.text), ['bad name:v1', 'ok:v1']);
    assert.match(found[0].error!, /not a valid name/);
    assert.equal(found[0].parsed, undefined);
  });
  it('referenceAt finds the string under a cursor', () => {
    const src = 'x = run.use_artifact("mnist-raw:v1")';
    const at = src.indexOf('raw');
    assert.equal(referenceAt(src, at)?.text, 'mnist-raw:v1');
    assert.equal(referenceAt(src, 2), undefined);
  });
});

describe('extension logic: project inference', () => {
  it('reads init(project=…) in Python and init({project}) in TypeScript', () => {
    assert.equal(projectFromSource('run = wandb.init(job_type="x", project="artifacts-example")'), 'artifacts-example');
    assert.equal(projectFromSource("const run = await init({ jobType: 'x', project: 'demo' })"), 'demo');
    assert.equal(projectFromSource('run = wandb.init()'), undefined);
  });
  it('prefers reference, then file, then setting, then the only project; else ambiguous', () => {
    assert.deepEqual(chooseProject({ fromReference: 'r', fromFile: 'f', fromSetting: 's', projects: ['a', 'b'] }), { kind: 'project', project: 'r', source: 'reference' });
    assert.deepEqual(chooseProject({ fromFile: 'f', fromSetting: 's', projects: [] }), { kind: 'project', project: 'f', source: 'file' });
    assert.deepEqual(chooseProject({ fromSetting: ' s ', projects: ['a', 'b'] }), { kind: 'project', project: 's', source: 'setting' });
    assert.deepEqual(chooseProject({ fromSetting: '', projects: ['only'] }), { kind: 'project', project: 'only', source: 'only' });
    const amb = chooseProject({ projects: ['b', 'a'] });
    assert.deepEqual(amb, { kind: 'ambiguous', candidates: ['a', 'b'] });
    assert.match(projectProblem(amb, 'x:latest')!, /ambiguous project \(a, b\).*init\(project=/);
    assert.match(projectProblem(chooseProject({ projects: [] }), 'x')!, /no projects/);
  });
});

describe('extension logic: formatting', () => {
  it('formats sizes and ages', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(999), '999 B');
    assert.equal(formatBytes(1500), '1.5 KiB');
    assert.equal(formatBytes(55_000_000), '52 MiB');
    assert.equal(formatBytes(2.5e12), '2.3 TiB');
    assert.equal(formatAge(new Date(NOW - 2_000).toISOString(), NOW), 'just now');
    assert.equal(formatAge(new Date(NOW - 42_000).toISOString(), NOW), '42 s ago');
    assert.equal(formatAge(new Date(NOW - 5 * 60_000).toISOString(), NOW), '5 min ago');
    assert.equal(formatAge(new Date(NOW - 2 * 3600_000).toISOString(), NOW), '2 h ago');
    assert.equal(formatAge(new Date(NOW - 3 * 86400_000).toISOString(), NOW), '3 d ago');
  });
  it('writes the lens text of the spec', () => {
    assert.equal(lensTitle('mnist-raw:latest', version(), NOW), 'mnist-raw:latest → v3 · 3 files · 52 MiB · 2 h ago by load-data/sunny-smoke-1');
    assert.equal(lensTitle('m:v0', version({ fileCount: 1, producerRun: null, size: 10 }), NOW), 'm:v0 → v3 · 1 file · 10 B · 2 h ago');
  });
  it('version rows put latest first, then size and age', () => {
    assert.equal(versionRowDescription(version(), NOW), 'latest, best · 52 MiB · 2 h ago');
    assert.equal(versionRowDescription(version({ aliases: [] }), NOW), '52 MiB · 2 h ago');
  });
  it('hover/tooltip markdown has digest, producer, description and a metadata table', () => {
    // What shows: Markdown backslash escapes (every server string is escaped) resolved.
    const md = versionMarkdown(version(), NOW).replace(/\\([!-/:-@[-`{-~])/g, '$1');
    assert.match(md, /digest: `a{64}`/);
    assert.match(md, /load-data\/sunny-smoke-1/);
    assert.match(md, /raw MNIST/);
    assert.match(md, /\| source \| keras \|/);
    assert.match(md, /\| rows \| 70000 \|/);
    assert.equal(metadataTable({}), '');
    assert.match(metadataTable({ 'a|b': 'x'.repeat(500) }), /a\\\|b.*…/);
  });
});

describe('extension logic: file tree and paging', () => {
  it('nests folders first, sums sizes and counts', () => {
    const root = buildFileTree({
      'b.txt': { digest: '1', size: 1 },
      'data/train/x.csv': { digest: '2', size: 10 },
      'data/a.csv': { digest: '3', size: 5 },
      'a.txt': { digest: '4', size: 2 },
    });
    assert.deepEqual(root.children.map((c) => c.name), ['data', 'a.txt', 'b.txt']);
    const data = root.children[0];
    assert.ok(data.kind === 'folder');
    assert.equal(data.size, 15);
    assert.equal(data.fileCount, 2);
    assert.deepEqual(data.children.map((c) => c.path), ['data/train', 'data/a.csv']);
    assert.equal(root.size, 18);
    assert.equal(root.fileCount, 4);
  });
  it('pages long lists', () => {
    const items = Array.from({ length: 250 }, (_, i) => i);
    assert.deepEqual(pageOf(items, 100).remaining, 150);
    assert.equal(pageOf(items, 300).items.length, 250);
  });
});

describe('extension logic: events, server output, inputs', () => {
  it('maps events to the collection they touch', () => {
    assert.deepEqual(impactOf({ type: 'version.created', version: version() }), { entity: 'me', project: 'mnist', collection: 'mnist-raw' });
    assert.deepEqual(impactOf({ type: 'alias.moved', entity: 'e', project: 'p', name: 'n', alias: 'best', version: 'v2', previous: 'v1' }), { entity: 'e', project: 'p', collection: 'n' });
  });
  it('recognises the server\'s listening line only', () => {
    assert.deepEqual(parseListeningLine('{"event":"listening","url":"http://127.0.0.1:7411","dataDir":"/d","pid":3}'), { url: 'http://127.0.0.1:7411', dataDir: '/d', pid: 3 });
    assert.equal(parseListeningLine('{"level":30,"msg":"hello"}'), undefined);
    assert.equal(parseListeningLine('plain text'), undefined);
  });
  it('groups runs by job type, newest first', () => {
    const g = groupByJobType([
      { jobType: 'train', createdAt: '2026-01-01' },
      { jobType: null, createdAt: '2026-01-02' },
      { jobType: 'load-data', createdAt: '2026-01-01' },
      { jobType: 'train', createdAt: '2026-01-03' },
    ]);
    assert.deepEqual([...g.keys()], ['load-data', 'train', '(no job type)']);
    assert.equal(g.get('train')![0].createdAt, '2026-01-03');
  });
  it('default download folder and alias lists', () => {
    assert.equal(defaultDownloadFolder('artifacts/', 'mnist-raw', 'v3', 'linux'), 'artifacts/mnist-raw:v3');
    assert.equal(defaultDownloadFolder('artifacts', 'mnist-raw', 'v3', 'win32'), 'artifacts/mnist-raw-v3');
    assert.deepEqual(parseAliasList(' best, production  best\tx '), ['best', 'production', 'x']);
    assert.equal(suggestName('My Data (1)'), 'My-Data-1');
    assert.equal(suggestName('.hidden'), 'hidden');
    assert.equal(suggestName('数据'), 'artifact');
    assert.equal(suggestName('mnist_raw.v2'), 'mnist_raw.v2');
  });
});

describe('extension logic: reference resolver cache', () => {
  function backend(over: Partial<ResolverBackend> & { versions: Map<string, ArtifactVersion> }) {
    const calls: string[] = [];
    const b: ResolverBackend = {
      resolve: async (ref) => {
        calls.push(ref);
        const v = over.versions.get(ref);
        if (!v) throw new AmphoraError('not_found', `no ${ref}`);
        return v;
      },
      projects: over.projects ?? (async () => [{ entity: 'me', name: 'mnist' }]),
      entity: async () => 'me',
    };
    return { b, calls };
  }
  it('resolves unqualified refs in the only project, caches, and forgets on events', async () => {
    const versions = new Map([['me/mnist/mnist-raw:latest', version()]]);
    const { b, calls } = backend({ versions });
    const r = new ReferenceResolver(() => b, () => undefined);
    let fired = 0;
    r.onDidInvalidate(() => fired++);
    const first = await r.resolveInSource('mnist-raw:latest', 'x = 1');
    assert.equal(first.kind, 'resolved');
    await r.resolveInSource('mnist-raw', '');
    assert.deepEqual(calls, ['me/mnist/mnist-raw:latest']);
    versions.set('me/mnist/mnist-raw:latest', version({ version: 'v4' }));
    r.invalidateCollection('me', 'mnist', 'mnist-raw');
    assert.equal(fired, 1);
    const again = await r.resolveInSource('mnist-raw:latest', '');
    assert.ok(again.kind === 'resolved' && again.version.version === 'v4');
  });
  it('says unknown for a missing artifact, and ambiguous when projects compete', async () => {
    const { b } = backend({ versions: new Map(), projects: async () => [{ entity: 'me', name: 'a' }, { entity: 'me', name: 'b' }] });
    const r = new ReferenceResolver(() => b, () => undefined);
    const amb = await r.resolveInSource('x:latest', '');
    assert.ok(amb.kind === 'problem' && /ambiguous/.test(amb.message));
    const inFile = await r.resolveInSource('x:latest', 'wandb.init(project="a")');
    assert.ok(inFile.kind === 'unknown' && inFile.fullRef === 'me/a/x:latest');
    const bad = await r.resolveInSource('bad name', '');
    assert.ok(bad.kind === 'problem' && /Invalid artifact reference/.test(bad.message));
  });
});
