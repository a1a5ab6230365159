// Runs the TypeScript core on cases read from stdin so the Python port can be compared to it.
// Input: JSON [{fn, arg}]; output: JSON [{ok, value} | {code, message}].
import { parseReference } from '../../src/core/reference.js';
import { validateAlias, validateArtifactName, validateArtifactType } from '../../src/core/names.js';
import { checkPathCollisions, validateManifestPath } from '../../src/core/paths.js';
import { artifactDigest, validateManifest } from '../../src/core/node/manifest.js';
import { AmphoraError } from '../../src/core/errors.js';
import { MetricSummaries, type DefineMetricOptions } from '../../src/core/metricSummary.js';
import { runMatches, type Filters } from '../../src/core/runFilters.js';

/** Which of the runs match the filters (their ids). */
function runFilters({ runs, filters }: { runs: Record<string, unknown>[]; filters: Filters }) {
  return runs.filter((r) => runMatches(r, filters)).map((r) => r.id);
}

/** define_metric definitions, then rows as logged: the rows after step sync and the final summary. */
function metricSummaries({ defs, rows }: { defs: { name: string; opts: DefineMetricOptions }[]; rows: Record<string, unknown>[] }) {
  const m = new MetricSummaries();
  for (const d of defs) m.define(d.name, d.opts);
  const synced = rows.map((r) => m.syncSteps(r));
  const summary: Record<string, unknown> = {};
  for (const r of synced) Object.assign(summary, m.summarize(r));
  return { rows: synced, summary };
}

const fns: Record<string, (a: never) => unknown> = {
  parseReference,
  validateAlias,
  validateArtifactName,
  validateArtifactType,
  validateManifestPath,
  checkPathCollisions,
  artifactDigest,
  validateManifest,
  metricSummaries,
  runFilters,
};

let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const cases = JSON.parse(input) as { fn: string; arg: never }[];
  const out = cases.map(({ fn, arg }) => {
    try {
      return { ok: true, value: fns[fn](arg) ?? null };
    } catch (e) {
      if (e instanceof AmphoraError) return { code: e.code, message: e.message };
      return { code: 'crash', message: String(e) };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
