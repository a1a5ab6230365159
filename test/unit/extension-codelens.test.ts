/**
 * The reference CodeLenses' logic (language/lensLogic.ts) with the real resolver over a fake
 * connection (an in-memory server): what each lens says, which action lenses appear, what a
 * click hands to the command, and how lenses follow an alias move and the notebook's project.
 */
import assert from 'node:assert/strict';
import { ReferenceLenses, type LensSpec } from '../../src/extension/language/lensLogic.js';
import { CollectionIndex } from '../../src/extension/logic/collectionIndex.js';
import { ReferenceResolver } from '../../src/extension/logic/resolver.js';
import { FakeConnection } from './support/fakeConnection.js';

const DOC = 'file:///w/train.py';
const SOURCE = [
  'import amphora as wandb',
  'run = wandb.init(project="mnist")',
  'raw = run.use_artifact("mnist-raw:latest")',
  'best = run.use_artifact("mnist-raw:best")',
  'typo = run.use_artifact("mnist-rwa:latest")',
  'bad = run.use_artifact("no spaces allowed")',
].join('\n');

function setup() {
  const fake = new FakeConnection();
  fake.addArtifact('mnist', 'mnist-raw', 'dataset', 3, (i) => (i === 1 ? { aliases: ['best'] } : {}));
  fake.addArtifact('other', 'elsewhere', 'model', 1);
  const index = new CollectionIndex((e, p) => fake.collections(e, p, { limit: 1000 }).then((r) => r.items));
  const resolver = new ReferenceResolver(
    () => ({
      resolve: (ref) => fake.resolve(ref),
      projects: async () => (await fake.projects()).items,
      entity: async () => fake.entity,
      projectIndex: (e, p) => index.get(e, p),
    }),
    () => undefined,
  );
  let reasked!: () => void;
  const reask = new Promise<void>((r) => (reasked = r));
  const lenses = new ReferenceLenses(resolver, () => reasked());
  return { fake, resolver, lenses, reask };
}

const summaries = (specs: LensSpec[]) => specs.filter((s) => s.role === 'summary');

describe('extension CodeLens logic over a fake connection', () => {
  it('puts a summary lens on every reference, titled with the resolved version or what is wrong', async () => {
    const { lenses } = setup();
    const specs = lenses.lensesFor(DOC, SOURCE);
    assert.deepEqual(specs.map((s) => `${s.role} ${s.found.text}`), ['summary mnist-raw:latest', 'summary mnist-raw:best', 'summary mnist-rwa:latest', 'summary no spaces allowed']);
    const titles = await Promise.all(specs.map((s) => lenses.resolve(DOC, s, SOURCE)));
    assert.match(titles[0].title, /^mnist-raw:latest → v2 · 2 files · 2\.9 KiB · /);
    assert.match(titles[1].title, /^mnist-raw:best → v1 · /);
    assert.equal(titles[2].title, 'mnist-rwa:latest → unknown artifact "mnist-rwa" in me/mnist — did you mean "mnist-raw"?');
    assert.equal(titles[2].command, '', 'nothing to run on an unknown reference');
    assert.match(titles[3].title, /^no spaces allowed → /);
    lenses.dispose();
  });

  it('a click hands the command the version the lens resolved, not the text to resolve again', async () => {
    const { lenses } = setup();
    const [summary] = lenses.lensesFor(DOC, SOURCE);
    const cmd = await lenses.resolve(DOC, summary, SOURCE);
    assert.equal(cmd.command, 'amphora.revealReference');
    // `latest` already resolved to v2: the command gets v2 itself, so an alias moving between the
    // lens and the click cannot send it to another version.
    assert.deepEqual(cmd.arguments, [{ entity: 'me', project: 'mnist', name: 'mnist-raw', version: 'v2' }]);
    lenses.dispose();
  });

  it('adds Reveal, Lineage, Download and Producer Code only for references that resolved, after asking VS Code again', async () => {
    const { lenses, reask } = setup();
    for (const s of lenses.lensesFor(DOC, SOURCE)) await lenses.resolve(DOC, s, SOURCE);
    await reask;
    const specs = lenses.lensesFor(DOC, SOURCE);
    assert.deepEqual(specs.filter((s) => s.role !== 'summary').map((s) => `${s.role} ${s.found.text}`), [
      'reveal mnist-raw:latest', 'lineage mnist-raw:latest', 'download mnist-raw:latest', 'code mnist-raw:latest',
      'reveal mnist-raw:best', 'lineage mnist-raw:best', 'download mnist-raw:best', 'code mnist-raw:best',
    ]);
    // These versions were logged without a run: no code to open, so the Producer Code lens stays untitled.
    const code = await lenses.resolve(DOC, specs.find((s) => s.role === 'code')!, SOURCE);
    assert.deepEqual([code.title, code.command], ['', '']);
    const lineage = await lenses.resolve(DOC, specs.find((s) => s.role === 'lineage')!, SOURCE);
    assert.deepEqual(lineage.arguments, [{ entity: 'me', project: 'mnist', nodeId: 'artifact:mnist-mnist-raw-2' }]);
    const download = await lenses.resolve(DOC, specs.find((s) => s.role === 'download')!, SOURCE);
    assert.deepEqual([download.command, download.arguments], ['amphora.downloadReference', [{ entity: 'me', project: 'mnist', name: 'mnist-raw', version: 'v2' }]]);
    // Closing the document forgets what it resolved to.
    lenses.forget(DOC);
    assert.equal(lenses.lensesFor(DOC, SOURCE).length, summaries(specs).length);
    lenses.dispose();
  });

  it('follows an alias move once the resolver hears of it', async () => {
    const { lenses, resolver, fake } = setup();
    const best = lenses.lensesFor(DOC, SOURCE)[1];
    assert.match((await lenses.resolve(DOC, best, SOURCE)).title, /→ v1 /);
    const list = fake.versionsByName.get('mnist/mnist-raw')!;
    list[1].aliases = [];
    list[2].aliases = ['latest', 'best'];
    // Until the event arrives the cached answer stands; the event invalidates that collection.
    assert.match((await lenses.resolve(DOC, best, SOURCE)).title, /→ v1 /);
    resolver.invalidateCollection('me', 'mnist', 'mnist-raw');
    assert.match((await lenses.resolve(DOC, best, SOURCE)).title, /→ v2 /);
    lenses.dispose();
  });

  it('takes the project from the text it is given (a notebook passes its other cells)', async () => {
    const { lenses } = setup();
    const cell = 'm = run.use_artifact("elsewhere:latest")';
    const [spec] = lenses.lensesFor('vscode-notebook-cell:/w/a.ipynb#cell2', cell);
    // Two projects and nothing naming one: ambiguous.
    assert.match((await lenses.resolve('cell', spec, cell)).title, /ambiguous project \(mnist, other\)/);
    const notebook = `${cell}\nrun = wandb.init(project="other")`;
    assert.match((await lenses.resolve('cell', spec, notebook)).title, /^elsewhere:latest → v0 /);
    lenses.dispose();
  });
});
