import assert from 'node:assert/strict';
import type { ArtifactVersion, LineageGraph, Run } from '../../src/core/api.js';
import { artifactLabel, artifactNode, collapseToTypes, lineageEdge, parseNodeId, runLabel, runNode, walk } from '../../src/core/lineage.js';

function version(id: string, name: string, type: string, idx: number): ArtifactVersion {
  const t = new Date(0).toISOString();
  return { id, entity: 'me', project: 'p', name, type, version: `v${idx}`, index: idx, digest: '0'.repeat(64), size: 1, fileCount: 1, aliases: [], description: null, metadata: {}, state: 'committed', createdAt: t, updatedAt: t, producerRun: null };
}
function run(id: string, name: string, jobType: string | null): Run {
  const t = new Date(0).toISOString();
  return { entity: 'me', project: 'p', id, name, jobType, group: null, state: 'finished', config: {}, summary: {}, createdAt: t, updatedAt: t, heartbeatAt: t, finishedAt: t };
}

/** load → raw:v0, raw:v1 → prep → clean:v0 → train(x2) → model:v0 */
function pipeline(): LineageGraph {
  const nodes = [
    runNode(run('r1', 'sunny-smoke-1', 'load-data')),
    artifactNode(version('1', 'mnist-raw', 'dataset', 0)),
    artifactNode(version('2', 'mnist-raw', 'dataset', 1)),
    runNode(run('r2', 'quiet-river-2', 'preprocess')),
    artifactNode(version('3', 'mnist-clean', 'dataset', 0)),
    runNode(run('r3', 'bold-star-3', 'train')),
    runNode(run('r4', 'calm-lake-4', 'train')),
    artifactNode(version('4', 'model', 'model', 0)),
  ];
  const edges = [
    lineageEdge('1', 'r1', 'output'),
    lineageEdge('2', 'r1', 'output'),
    lineageEdge('1', 'r2', 'input'),
    lineageEdge('2', 'r2', 'input'),
    lineageEdge('3', 'r2', 'output'),
    lineageEdge('3', 'r3', 'input'),
    lineageEdge('3', 'r4', 'input'),
    lineageEdge('4', 'r3', 'output'),
  ];
  return { focus: 'artifact:3', level: 'instance', nodes, edges, truncated: false };
}

describe('core/lineage (server and webview share it)', () => {
  it('labels nodes like the seeds: dataset:mnist-raw:v1 and load-data:sunny-smoke-1', () => {
    assert.equal(artifactLabel(version('1', 'mnist-raw', 'dataset', 1)), 'dataset:mnist-raw:v1');
    assert.equal(runLabel(run('r', 'sunny-smoke-1', 'load-data')), 'load-data:sunny-smoke-1');
    assert.equal(runLabel(run('r', 'sunny-smoke-1', null)), 'sunny-smoke-1');
    assert.deepEqual(parseNodeId('artifact:12'), { kind: 'artifact', key: '12' });
    assert.equal(parseNodeId('jobType:x'), undefined);
  });

  it('edges point run → version for outputs and version → run for inputs', () => {
    assert.deepEqual(lineageEdge('7', 'r', 'output'), { source: 'run:r', target: 'artifact:7', kind: 'output' });
    assert.deepEqual(lineageEdge('7', 'r', 'input'), { source: 'artifact:7', target: 'run:r', kind: 'input' });
  });

  it('walks breadth-first by depth and direction, reporting truncation', () => {
    const g = pipeline();
    const one = walk('artifact:3', g.edges, { depth: 1, direction: 'both', maxNodes: 100 });
    assert.deepEqual([...one.nodes].sort(), ['artifact:3', 'run:r2', 'run:r3', 'run:r4']);
    assert.equal(one.truncated, true);
    const up = walk('artifact:3', g.edges, { depth: 10, direction: 'upstream', maxNodes: 100 });
    assert.deepEqual([...up.nodes].sort(), ['artifact:1', 'artifact:2', 'artifact:3', 'run:r1', 'run:r2']);
    assert.equal(up.truncated, false);
    const down = walk('artifact:3', g.edges, { depth: 10, direction: 'downstream', maxNodes: 100 });
    assert.deepEqual([...down.nodes].sort(), ['artifact:3', 'artifact:4', 'run:r3', 'run:r4']);
    const capped = walk('artifact:3', g.edges, { depth: 10, direction: 'both', maxNodes: 3 });
    assert.equal(capped.nodes.size, 3);
    assert.equal(capped.truncated, true);
  });

  it('collapses instances to artifact types and job types with counts and deduplicated edges', () => {
    const t = collapseToTypes(pipeline());
    assert.equal(t.level, 'type');
    assert.equal(t.focus, 'artifactType:dataset');
    const byId = Object.fromEntries(t.nodes.map((n) => [n.id, n]));
    assert.deepEqual(Object.keys(byId).sort(), ['artifactType:dataset', 'artifactType:model', 'jobType:load-data', 'jobType:preprocess', 'jobType:train']);
    assert.equal(byId['artifactType:dataset'].count, 3);
    assert.equal(byId['jobType:train'].count, 2);
    assert.equal(byId['jobType:train'].label, 'train');
    const keys = t.edges.map((e) => `${e.source}>${e.target}:${e.kind}`).sort();
    assert.deepEqual(keys, [
      'artifactType:dataset>jobType:preprocess:input',
      'artifactType:dataset>jobType:train:input',
      'jobType:load-data>artifactType:dataset:output',
      'jobType:preprocess>artifactType:dataset:output',
      'jobType:train>artifactType:model:output',
    ]);
    assert.equal(collapseToTypes(t), t, 'already collapsed');
  });
});
