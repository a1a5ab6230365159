import assert from 'node:assert/strict';
import { generateLineage } from '../../bench/lineageFixture.js';
import { layoutGraph, LARGE_GRAPH_NODES } from '../../src/core/graphLayout.js';
import { collapseToTypes, detailRows, filterToMatches, matchNodes, mergeGraphs, neighbourIds, removeNodes } from '../../src/core/lineageView.js';
import { parseExtensionMessage, parseWebviewMessage } from '../../src/core/webviewMessages.js';
import { TUTORIAL_STATE, tutorialLineage, version } from '../webview/tutorialLineage.js';

describe('lineage view model', () => {
  it('collapses the tutorial pipeline to artifact types and job types with counts and deduplicated edges', () => {
    const t = collapseToTypes(tutorialLineage());
    assert.equal(t.level, 'type');
    const nodes = Object.fromEntries(t.nodes.map((n) => [n.id, n.count]));
    assert.deepEqual(nodes, {
      'artifactType:dataset': 2, 'artifactType:model': 2,
      'jobType:load-data': 1, 'jobType:preprocess-data': 1, 'jobType:initialize-model': 1, 'jobType:train': 1, 'jobType:report': 1,
    });
    const edges = t.edges.map((e) => `${e.source}>${e.target}`).sort();
    assert.deepEqual(edges, [
      'artifactType:dataset>jobType:preprocess-data', 'artifactType:dataset>jobType:report', 'artifactType:dataset>jobType:train',
      'artifactType:model>jobType:report', 'artifactType:model>jobType:train',
      'jobType:initialize-model>artifactType:model', 'jobType:load-data>artifactType:dataset', 'jobType:preprocess-data>artifactType:dataset',
      'jobType:train>artifactType:model',
    ]);
    assert.equal(t.focus, 'artifactType:dataset', 'the focus follows its type');
    assert.equal(collapseToTypes(t), t, 'a type-level graph is left alone');
  });

  it('merges expansions (newer payload wins, no duplicate edges, dangling edges dropped) and removes deleted nodes', () => {
    const base = tutorialLineage();
    const moved = version('a4', 'trained-model', 'model', 0, ['best']);
    const extra = version('a9', 'trained-model', 'model', 1, ['latest']);
    const merged = mergeGraphs(base, {
      focus: null, level: 'instance', truncated: true,
      nodes: [moved, extra],
      edges: [{ source: 'run:r4', target: 'artifact:a9', kind: 'output' }, { source: 'run:r4', target: 'artifact:a4', kind: 'output' }, { source: 'run:gone', target: 'artifact:a9', kind: 'output' }],
    });
    assert.equal(merged.nodes.length, 10);
    assert.equal(merged.edges.length, 10);
    assert.deepEqual(merged.nodes.find((n) => n.id === 'artifact:a4')?.version?.aliases, ['best']);
    assert.equal(merged.focus, 'artifact:a1');
    assert.equal(merged.truncated, true);
    const pruned = removeNodes(merged, ['artifact:a9', 'artifact:a1']);
    assert.equal(pruned.nodes.length, 8);
    assert.ok(!pruned.edges.some((e) => e.target === 'artifact:a9' || e.source === 'artifact:a1' || e.target === 'artifact:a1'));
    assert.equal(pruned.focus, null);
    assert.deepEqual([...neighbourIds(base, 'run:r4')].sort(), ['artifact:a2', 'artifact:a3', 'artifact:a4']);
  });

  it('describes nodes for the details panel', () => {
    const g = tutorialLineage();
    const rows = Object.fromEntries(detailRows(g.nodes.find((n) => n.id === 'artifact:a4')!));
    assert.equal(rows.Artifact, 'trained-model:v0');
    assert.equal(rows.Aliases, 'latest, best');
    assert.equal(rows['Produced by'], 'train/quiet-smoke-4');
    assert.equal(rows.Size, '52 MiB');
    const type = Object.fromEntries(detailRows(collapseToTypes(g).nodes.find((n) => n.id === 'jobType:train')!));
    assert.deepEqual(type, { 'Job type': 'train', Runs: '1' });
  });
});

describe('lineage layout (dagre, left to right)', () => {
  it('places every edge from left to right in layers, without overlapping nodes', () => {
    const g = tutorialLineage();
    const l = layoutGraph(g);
    assert.equal(l.nodes.size, 9);
    for (const e of g.edges) {
      const s = l.nodes.get(e.source)!;
      const t = l.nodes.get(e.target)!;
      assert.ok(s.x + s.width / 2 < t.x - t.width / 2, `${e.source} ends before ${e.target} starts`);
    }
    const boxes = [...l.nodes.values()];
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i], b = boxes[j];
        const overlap = Math.abs(a.x - b.x) < (a.width + b.width) / 2 && Math.abs(a.y - b.y) < (a.height + b.height) / 2;
        assert.ok(!overlap, `${a.id} overlaps ${b.id}`);
      }
    assert.equal(l.edges.length, 9);
    for (const e of l.edges) assert.ok(e.points.length >= 2);
    assert.ok(l.width > 0 && l.height > 0);
  });

  it('lays out a generated 2,000-node lineage with the fast ranker, edges still pointing right', () => {
    const g = generateLineage(2000, 3);
    assert.ok(g.nodes.length > LARGE_GRAPH_NODES);
    const l = layoutGraph(g);
    assert.equal(l.nodes.size, g.nodes.length);
    let backwards = 0;
    for (const e of g.edges) if (l.nodes.get(e.source)!.x >= l.nodes.get(e.target)!.x) backwards++;
    assert.equal(backwards, 0);
  });
});

describe('webview messages (validated on both sides)', () => {
  it('accepts well-formed messages in each direction', () => {
    assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { ok: true, message: { type: 'ready' } });
    assert.equal(parseWebviewMessage({ type: 'expand', nodeId: 'run:r1', depth: 2 }).ok, true);
    const r = parseExtensionMessage({ type: 'graph', mode: 'replace', state: TUTORIAL_STATE, graph: tutorialLineage() });
    assert.equal(r.ok, true);
  });

  it('rejects malformed ones with a message that says what and where', () => {
    const bad = parseWebviewMessage({ type: 'expand', nodeId: 'run:r1', depth: 99 });
    assert.equal(bad.ok, false);
    assert.match((bad as { error: string }).error, /"expand".*depth/);
    const unknown = parseWebviewMessage({ type: 'rm -rf' });
    assert.equal(unknown.ok, false);
    assert.match((unknown as { error: string }).error, /"rm -rf"/);
    assert.equal(parseWebviewMessage(null).ok, false);
    const g = parseExtensionMessage({ type: 'graph', mode: 'replace', state: { ...TUTORIAL_STATE, depth: 0 }, graph: tutorialLineage() });
    assert.match((g as { error: string }).error, /state\.depth/);
  });
});

describe('lineage view model: find and filter', () => {
  const g = tutorialLineage();
  it('matches every word, case-insensitively, against label, name, type, version, aliases, run name and job type', () => {
    assert.deepEqual(matchNodes(g, 'model').sort(), ['artifact:a3', 'artifact:a4', 'run:r3']);
    assert.deepEqual(matchNodes(g, 'MODEL best'), ['artifact:a4']);
    assert.deepEqual(matchNodes(g, 'misty'), ['run:r2']);
    assert.deepEqual(matchNodes(g, 'train'), ['run:r4', 'artifact:a4']);
    assert.deepEqual(matchNodes(g, 'dataset v0').sort(), ['artifact:a1', 'artifact:a2']);
    assert.deepEqual(matchNodes(g, '   '), []);
    assert.deepEqual(matchNodes(g, 'nothing-like-this'), []);
    // Collapsed nodes match by the type they stand for.
    assert.deepEqual(matchNodes(collapseToTypes(g), 'report'), ['jobType:report']);
  });

  it('keeps the matches, their direct neighbours and the edges touching a match, nothing two steps out', () => {
    const f = filterToMatches(g, ['artifact:a3']);
    assert.deepEqual(f.nodes.map((n) => n.id).sort(), ['artifact:a3', 'run:r3', 'run:r4']);
    assert.deepEqual(f.edges.map((e) => `${e.source}>${e.target}`).sort(), ['artifact:a3>run:r4', 'run:r3>artifact:a3']);
    assert.equal(f.focus, null, 'the focus (mnist-raw) is filtered out');
    assert.equal(filterToMatches(g, ['artifact:a1']).focus, 'artifact:a1');
    assert.deepEqual(filterToMatches(g, []).nodes, []);
  });
});
