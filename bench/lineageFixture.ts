/**
 * A generated instance-level lineage shaped like a real pipeline, for the render benchmark and
 * the webview tests: load-data runs make raw datasets, preprocess runs turn them into processed
 * ones, train runs read processed data plus a model and write trained models, evaluate runs read
 * a trained model and processed data. Deterministic for a given seed.
 */
import type { ArtifactVersion, LineageEdge, LineageGraph, LineageNode, Run } from '../src/core/api.js';

export function generateLineage(targetNodes: number, seed = 1): LineageGraph {
  let s = seed >>> 0 || 1;
  const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const nodes: LineageNode[] = [];
  const edges: LineageEdge[] = [];
  const counters = new Map<string, number>();
  const t = Date.parse('2026-01-01T00:00:00Z');
  const iso = (i: number) => new Date(t + i * 60_000).toISOString();

  const run = (jobType: string): string => {
    const i = nodes.length;
    const id = `r${i.toString(36)}`;
    const r: Run = {
      entity: 'bench', project: 'pipeline', id, name: `${pick(['sunny', 'misty', 'brave', 'quiet'])}-${pick(['smoke', 'river', 'field'])}-${i}`,
      jobType, group: null, state: 'finished', config: {}, summary: {}, createdAt: iso(i), updatedAt: iso(i), heartbeatAt: iso(i), finishedAt: iso(i),
    };
    nodes.push({ id: `run:${id}`, kind: 'run', label: `${jobType}:${r.name}`, run: r });
    return `run:${id}`;
  };
  const version = (name: string, type: string, producer: string | null): string => {
    const index = counters.get(name) ?? 0;
    counters.set(name, index + 1);
    const i = nodes.length;
    const v: ArtifactVersion = {
      id: `a${i.toString(36)}`, entity: 'bench', project: 'pipeline', name, type, version: `v${index}`, index,
      digest: (i.toString(16) + '0'.repeat(64)).slice(0, 64), size: 1000 + i * 17, fileCount: 1 + (i % 5),
      aliases: [], description: null, metadata: {}, state: 'committed', createdAt: iso(i), updatedAt: iso(i), producerRun: null,
    };
    nodes.push({ id: `artifact:${v.id}`, kind: 'artifact', label: `${type}:${name}:v${index}`, version: v });
    if (producer) edges.push({ source: producer, target: `artifact:${v.id}`, kind: 'output' });
    return `artifact:${v.id}`;
  };
  const use = (artifact: string, runId: string) => edges.push({ source: artifact, target: runId, kind: 'input' });

  const raw: string[] = [];
  const processed: string[] = [];
  const models: string[] = [];
  const trained: string[] = [];
  const datasets = ['mnist', 'fashion', 'cifar', 'svhn'];
  while (nodes.length < targetNodes) {
    const step = rand();
    if (raw.length === 0 || step < 0.15) {
      const r = run('load-data');
      raw.push(version(`${pick(datasets)}-raw`, 'dataset', r));
    } else if (processed.length === 0 || step < 0.35) {
      const r = run('preprocess-data');
      use(pick(raw), r);
      processed.push(version(`${pick(datasets)}-preprocess`, 'dataset', r));
    } else if (models.length === 0 || step < 0.45) {
      const r = run('initialize-model');
      models.push(version(pick(['convnet', 'resnet', 'mlp']), 'model', r));
    } else if (trained.length === 0 || step < 0.8) {
      const r = run('train');
      use(pick(processed), r);
      use(pick(models), r);
      trained.push(version('trained-model', 'model', r));
    } else {
      const r = run('evaluate');
      use(pick(trained), r);
      use(pick(processed), r);
      version('eval-report', 'report', r);
    }
  }
  return { focus: nodes[0]?.id ?? null, level: 'instance', nodes, edges, truncated: false };
}
