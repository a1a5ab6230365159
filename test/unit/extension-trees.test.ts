/**
 * The Artifacts and Runs trees' logic (rows, paging, reveal paths, event reloads, roles) over a
 * fake connection: an in-memory server (test/unit/support/fakeConnection.ts). The VS Code side only
 * turns these rows into TreeItems; it runs in the e2e suite.
 */
import assert from 'node:assert/strict';
import type { Role, ServerEvent } from '../../src/core/api.js';
import { ArtifactsTreeModel } from '../../src/extension/views/artifactsModel.js';
import { nodeIds } from '../../src/extension/views/nodeIds.js';
import { MoreNode, OPEN_SELECTED_FILE, VersionNode, type TreeNode } from '../../src/extension/views/nodes.js';
import { JobTypeNode, RunNode, RunsTreeModel } from '../../src/extension/views/runsModel.js';
import type { TreeModel, TreeSource } from '../../src/extension/views/treeModel.js';
import { FakeConnection } from './support/fakeConnection.js';

function source(fake: FakeConnection | undefined, role: Role | null = 'admin'): TreeSource {
  return { http: () => fake, role: () => role };
}

const labels = (rows: TreeNode[]) => rows.map((r) => r.row().label);

/** Resolves with the next change the model announces (the reload after an event). */
function nextChange(model: TreeModel): Promise<TreeNode | undefined> {
  return new Promise((resolve) => {
    const sub = model.onDidChange((n) => {
      sub.dispose();
      resolve(n);
    });
  });
}

async function childByLabel(model: TreeModel, parent: TreeNode | undefined, label: string | RegExp): Promise<TreeNode> {
  const kids = await model.children(parent);
  const hit = kids.find((k) => (typeof label === 'string' ? k.row().label === label : label.test(k.row().label)));
  assert.ok(hit, `no row ${label} among ${labels(kids).join(', ')}`);
  return hit;
}

describe('extension trees over a fake connection: Artifacts', () => {
  let fake: FakeConnection;
  beforeEach(() => {
    fake = new FakeConnection();
    fake.addArtifact('mnist', 'mnist-raw', 'dataset', 3, (i) => (i === 1 ? { aliases: ['best'] } : {}));
    fake.addArtifact('mnist', 'convnet', 'model', 1);
    fake.addArtifact('audio', 'clips', 'dataset', 1);
  });

  it('lists projects → types → artifacts → versions (newest first) → files, with counts and aliases', async () => {
    const empties: boolean[] = [];
    const model = new ArtifactsTreeModel(source(fake), (e) => empties.push(e));
    const roots = await model.children();
    assert.deepEqual(labels(roots), ['audio', 'mnist']);
    assert.equal(roots[1].row().description, 'me · 2 artifacts');
    assert.deepEqual(empties, [false]);
    const mnist = roots[1];
    assert.deepEqual(labels(await model.children(mnist)), ['dataset', 'model']);
    const dataset = await childByLabel(model, mnist, 'dataset');
    assert.equal(dataset.row().collapsible, 'expanded');
    const raw = await childByLabel(model, dataset, 'mnist-raw');
    assert.equal(raw.row().description, '3 versions · latest v2');
    const versions = await model.children(raw);
    assert.deepEqual(labels(versions), ['v2', 'v1', 'v0']);
    assert.equal(versions[0].id, nodeIds.version('me', 'mnist', 'mnist-raw', 'v2'));
    assert.equal(versions[1].row().icon?.id, 'tag', 'a custom alias shows as a tag');
    const files = await model.children(versions[0]);
    assert.deepEqual(labels(files), ['labels', 'train.csv']);
    assert.equal(files[0].row().contextValue, 'folder');
    // No arguments (VS Code drops them with a row a reload replaced): the command opens this view's selection.
    assert.deepEqual(files[1].row().command, { command: OPEN_SELECTED_FILE.artifacts, title: 'Open File' });
  });

  it('offers edits and delete on version rows only to roles that may do them', async () => {
    const rowOf = async (role: Role | null) => {
      const model = new ArtifactsTreeModel(source(fake, role));
      const v = await model.findVersion({ entity: 'me', project: 'mnist', name: 'mnist-raw', version: 'best' });
      return v!.row().contextValue;
    };
    assert.equal(await rowOf('viewer'), 'version.aliased');
    assert.equal(await rowOf('editor'), 'version.aliased.canEdit');
    assert.equal(await rowOf('admin'), 'version.aliased.canEdit.canDelete');
  });

  it('pages long lists: 100 versions, then one "Load more…" row that loads the rest', async () => {
    fake.addArtifact('mnist', 'many', 'zz-batch', 105);
    const model = new ArtifactsTreeModel(source(fake));
    const type = await childByLabel(model, await childByLabel(model, undefined, 'mnist'), 'zz-batch');
    const many = await childByLabel(model, type, 'many');
    const first = await model.children(many);
    assert.equal(first.length, 101);
    const more = first.at(-1)!;
    assert.ok(more instanceof MoreNode);
    assert.equal(more.row().label, 'Load more…');
    assert.equal(more.row().command?.command, 'amphora.loadMore');
    const changed = nextChange(model);
    // A double click (or Enter pressed again while the page loads) loads the page once.
    assert.deepEqual(await Promise.all([more.loadMore(), more.loadMore()]), [true, true]);
    assert.equal(await changed, many, 'the list row is announced as changed');
    const all = await model.children(many);
    assert.equal(all.length, 105);
    assert.equal(new Set(all.map((r) => r.id)).size, 105, 'no row twice');
    assert.equal(all.at(-1)!.row().label, 'v0');
  });

  it('"Load more…" carries no command arguments and, clicked after a reload replaced its row, loads the reloaded list', async () => {
    fake.addArtifact('mnist', 'many', 'zz-batch', 105);
    const model = new ArtifactsTreeModel(source(fake));
    const walk = async () => {
      const type = await childByLabel(model, await childByLabel(model, undefined, 'mnist'), 'zz-batch');
      const many = await childByLabel(model, type, 'many');
      return { many, rows: await model.children(many) };
    };
    const before = await walk();
    const staleMore = before.rows.at(-1)!;
    // VS Code drops a command's arguments with the row they belong to: a click racing a reload
    // then failed with "Actual command not found". Without arguments nothing can go stale.
    assert.deepEqual(staleMore.row().command, { command: 'amphora.loadMore', title: 'Load more' });
    // A resync reloads the whole tree; the row the user sees was not re-fetched yet.
    model.refresh();
    assert.equal(await model.loadMore(staleMore), false, 'no such row while the tree reloads: nothing to load into');
    // VS Code re-fetches the rows (new instances, same ids); the click names the old row.
    const after = await walk();
    assert.notEqual(after.many, before.many);
    assert.equal(after.rows.length, 101);
    assert.equal(await model.loadMore(staleMore), true);
    assert.equal((await model.children(after.many)).length, 105, 'the list on screen got the next page');
    assert.equal(await model.loadMore(after.rows[0]), false, 'a row that is not "Load more…" loads nothing');
  });

  it('keeps the rows "Load more…" brought in when an event rebuilds the project (and after a full refresh)', async () => {
    fake.addArtifact('mnist', 'many', 'zz-batch', 105);
    const model = new ArtifactsTreeModel(source(fake));
    const versionsOfMany = async () => {
      const type = await childByLabel(model, await childByLabel(model, undefined, 'mnist'), 'zz-batch');
      return model.children(await childByLabel(model, type, 'many'));
    };
    const more = (await versionsOfMany()).at(-1)!;
    assert.ok(more instanceof MoreNode);
    await more.loadMore();
    assert.equal((await versionsOfMany()).length, 105);
    // Another artifact of the project gets a version: the project's subtree is rebuilt with new nodes.
    const [v1] = fake.addArtifact('mnist', 'convnet', 'model', 2).slice(1);
    const changed = nextChange(model);
    model.handleEvent({ type: 'version.created', version: v1 } as ServerEvent);
    await changed;
    const rebuilt = await versionsOfMany();
    assert.equal(rebuilt.length, 105, 'the list did not fall back to its first page');
    assert.equal(rebuilt.at(-1)!.row().label, 'v0');
    model.refresh();
    assert.equal((await versionsOfMany()).length, 105);
    model.dispose();
  });

  it('finds a version by alias for reveal, paging through "Load more" as needed', async () => {
    fake.addArtifact('mnist', 'many', 'zz-batch', 105, (i) => (i === 2 ? { aliases: ['old-best'] } : {}));
    const model = new ArtifactsTreeModel(source(fake));
    const v = await model.findVersion({ entity: 'me', project: 'mnist', name: 'many', version: 'old-best' });
    assert.ok(v instanceof VersionNode);
    assert.equal(v.version.version, 'v2');
    // Its parents lead back to the project row (VS Code's reveal walks them).
    const path: string[] = [];
    for (let n: TreeNode | undefined = v; n; n = n.parent) path.unshift(n.row().label);
    assert.deepEqual(path, ['mnist', 'zz-batch', 'many', 'v2']);
    assert.equal(await model.findVersion({ entity: 'me', project: 'mnist', name: 'many', version: 'v999' }).catch((e) => e.code), 'not_found');
  });

  it('reloads only the project an event touched, and everything for a new artifact or project', async () => {
    const model = new ArtifactsTreeModel(source(fake));
    const mnist = await childByLabel(model, undefined, 'mnist');
    const raw = await childByLabel(model, await childByLabel(model, mnist, 'dataset'), 'mnist-raw');
    assert.deepEqual(labels(await model.children(raw)), ['v2', 'v1', 'v0']);
    // A new version of an existing artifact: one reload, of the project row.
    const [v3] = fake.addArtifact('mnist', 'mnist-raw', 'dataset', 4).slice(3);
    let changed = nextChange(model);
    model.handleEvent({ type: 'version.created', version: v3 } as ServerEvent);
    assert.equal(await changed, mnist);
    const raw2 = await childByLabel(model, await childByLabel(model, mnist, 'dataset'), 'mnist-raw');
    assert.deepEqual(labels(await model.children(raw2)), ['v3', 'v2', 'v1', 'v0']);
    // A first version (a new artifact): every row above counts it, so everything reloads.
    const [first] = fake.addArtifact('audio', 'voices', 'dataset', 1);
    changed = nextChange(model);
    model.handleEvent({ type: 'version.created', version: first } as ServerEvent);
    assert.equal(await changed, undefined);
    // Run events do not touch this tree.
    const sub = model.onDidChange(() => assert.fail('a run event reloaded the Artifacts tree'));
    model.handleEvent({ type: 'run.logged', entity: 'me', project: 'mnist', runId: 'r1', lastStep: 3 });
    sub.dispose();
    model.dispose();
  });

  it('shows nothing while disconnected, and a row that says why when listing fails (then tries again)', async () => {
    assert.deepEqual(await new ArtifactsTreeModel(source(undefined)).children(), []);
    let fail = true;
    const flaky = Object.assign(new FakeConnection(), {
      projects: async () => {
        if (fail) throw new Error('server went away');
        return fake.projects();
      },
    });
    const model = new ArtifactsTreeModel(source(flaky));
    const rows = await model.children();
    assert.deepEqual(labels(rows), ['Could not list projects: server went away']);
    assert.equal(rows[0].row().icon?.id, 'error');
    fail = false;
    assert.deepEqual(labels(await model.children()), ['audio', 'mnist']);
  });
});

describe('extension trees over a fake connection: Runs', () => {
  let fake: FakeConnection;
  beforeEach(() => {
    fake = new FakeConnection();
    const [raw] = fake.addArtifact('mnist', 'mnist-raw', 'dataset', 1, () => ({ producerRun: { id: 'load1', name: 'run-load1', jobType: 'load-data' } }));
    fake.addRun('mnist', 'load1', 'load-data');
    fake.addRun('mnist', 'train1', 'train', { uses: [raw] }, { state: 'crashed' });
    fake.addRun('mnist', 'adhoc', null);
  });

  it('groups runs by job type, shows state, and lists what each run used and logged', async () => {
    const model = new RunsTreeModel(source(fake));
    const mnist = await childByLabel(model, undefined, 'mnist');
    assert.equal(mnist.row().description, 'me · 3 runs');
    assert.deepEqual(labels(await model.children(mnist)).sort(), ['(no job type)', 'load-data', 'train']);
    const train = await childByLabel(model, await childByLabel(model, mnist, 'train'), 'run-train1');
    assert.equal(train.row().icon?.id, 'warning');
    assert.match(train.row().description ?? '', /^crashed · /);
    const [inputs, outputs] = await model.children(train);
    assert.deepEqual(labels(await model.children(inputs)), ['mnist-raw:v0']);
    assert.deepEqual(labels(await model.children(outputs)), ['Logged no artifacts']);
    const load = await childByLabel(model, await childByLabel(model, mnist, 'load-data'), 'run-load1');
    const logged = (await model.children((await model.children(load))[1]))[0];
    assert.ok(logged instanceof VersionNode);
    assert.equal(logged.row().description?.startsWith('dataset · '), true, 'under a run a version row names its type');
    const fileRow = (await model.children(logged)).find((n) => n.row().contextValue === 'file');
    assert.equal(fileRow?.row().command?.command, OPEN_SELECTED_FILE.runs, 'a file under a run opens the Runs view\'s selection');
  });

  it('pages a job type\'s runs and finds a run deep in the list for reveal', async () => {
    for (let i = 0; i < 130; i++) fake.addRun('mnist', `sweep${i}`, 'sweep');
    const model = new RunsTreeModel(source(fake));
    const sweep = await childByLabel(model, await childByLabel(model, undefined, 'mnist'), 'sweep');
    assert.ok(sweep instanceof JobTypeNode);
    const rows = await model.children(sweep);
    assert.equal(rows.length, 101);
    assert.equal(rows.at(-1)!.row().label, 'Load more… (30 more)');
    const run = await model.findRun('me', 'mnist', 'sweep120');
    assert.ok(run instanceof RunNode);
    assert.equal(run.parent, sweep);
    assert.ok((await model.children(sweep)).includes(run), 'the run is among the rows shown');
    assert.equal(await model.findRun('me', 'mnist', 'no-such-run'), undefined);
  });

  it('keeps a job type\'s loaded runs when the project reloads', async () => {
    for (let i = 0; i < 130; i++) fake.addRun('mnist', `sweep${i}`, 'sweep');
    const model = new RunsTreeModel(source(fake));
    const sweepRows = async () => model.children(await childByLabel(model, await childByLabel(model, undefined, 'mnist'), 'sweep'));
    const more = (await sweepRows()).at(-1)!;
    assert.ok(more instanceof MoreNode);
    await more.loadMore();
    assert.equal((await sweepRows()).length, 130);
    model.refresh();
    assert.equal((await sweepRows()).length, 130);
    model.dispose();
  });

  it('reloads a project when one of its runs changes, and everything for a project not shown yet', async () => {
    const model = new RunsTreeModel(source(fake));
    const mnist = await childByLabel(model, undefined, 'mnist');
    let changed = nextChange(model);
    model.handleEvent({ type: 'run.updated', run: fake.runs[0] } as ServerEvent);
    assert.equal(await changed, mnist);
    const other = fake.addRun('speech', 's1', 'train');
    changed = nextChange(model);
    model.handleEvent({ type: 'run.updated', run: other } as ServerEvent);
    assert.equal(await changed, undefined);
    assert.deepEqual(labels(await model.children()), ['mnist', 'speech']);
    model.dispose();
  });
});
