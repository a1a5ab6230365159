/**
 * The tutorial pipeline's lineage as the server sends it (instance level): load-data makes
 * mnist-raw, preprocess-data turns it into mnist-preprocess, initialize-model makes convnet,
 * train reads both and makes trained-model, report reads mnist-preprocess and trained-model.
 */
import type { ArtifactVersion, LineageGraph, LineageNode, Run } from '../../src/core/api.js';

const T = '2026-11-23T09:00:00.000Z';

export function run(id: string, name: string, jobType: string | null): LineageNode {
  const r: Run = {
    entity: 'demo', project: 'artifacts-example', id, name, jobType, group: null, state: 'finished',
    config: {}, summary: {}, createdAt: T, updatedAt: T, heartbeatAt: T, finishedAt: T,
  };
  return { id: `run:${id}`, kind: 'run', label: `${jobType ?? '(no job type)'}:${name}`, run: r };
}

export function version(id: string, name: string, type: string, index: number, aliases: string[], producer?: LineageNode): LineageNode {
  const v: ArtifactVersion = {
    id, entity: 'demo', project: 'artifacts-example', name, type, version: `v${index}`, index,
    digest: 'ab'.repeat(32), size: 55_000_000 + index, fileCount: 3, aliases, description: `${name} ${type}`, metadata: {},
    state: 'committed', createdAt: T, updatedAt: T,
    producerRun: producer?.run ? { id: producer.run.id, name: producer.run.name, jobType: producer.run.jobType } : null,
  };
  return { id: `artifact:${id}`, kind: 'artifact', label: `${type}:${name}:v${index}`, version: v };
}

export function tutorialLineage(): LineageGraph {
  const load = run('r1', 'sunny-smoke-1', 'load-data');
  const raw = version('a1', 'mnist-raw', 'dataset', 0, ['latest'], load);
  const prep = run('r2', 'misty-river-2', 'preprocess-data');
  const pre = version('a2', 'mnist-preprocess', 'dataset', 0, ['latest'], prep);
  const init = run('r3', 'brave-field-3', 'initialize-model');
  const convnet = version('a3', 'convnet', 'model', 0, ['latest'], init);
  const train = run('r4', 'quiet-smoke-4', 'train');
  const trained = version('a4', 'trained-model', 'model', 0, ['latest', 'best'], train);
  const report = run('r5', 'sunny-river-5', 'report');
  return {
    focus: raw.id,
    level: 'instance',
    nodes: [load, raw, prep, pre, init, convnet, train, trained, report],
    edges: [
      { source: load.id, target: raw.id, kind: 'output' },
      { source: raw.id, target: prep.id, kind: 'input' },
      { source: prep.id, target: pre.id, kind: 'output' },
      { source: init.id, target: convnet.id, kind: 'output' },
      { source: pre.id, target: train.id, kind: 'input' },
      { source: convnet.id, target: train.id, kind: 'input' },
      { source: train.id, target: trained.id, kind: 'output' },
      { source: pre.id, target: report.id, kind: 'input' },
      { source: trained.id, target: report.id, kind: 'input' },
    ],
    truncated: false,
  };
}

export const TUTORIAL_STATE = { entity: 'demo', project: 'artifacts-example', focus: 'artifact:a1', level: 'instance' as const, depth: 5 };
