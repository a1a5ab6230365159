/**
 * Which runs a command means, from tree rows (`{run}`), Run objects or `{entity, project, runId}`
 * (webview messages, command links). Pure (no `vscode`).
 */
const isObj = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object';
const str = (x: unknown): x is string => typeof x === 'string' && x.length > 0;

export interface RunTarget {
  entity: string;
  project: string;
  runId: string;
}

/** A run from a tree row (`{run}`), a Run, or `{entity, project, runId}`. */
export function runTargetOf(arg: unknown): RunTarget | undefined {
  const a = isObj(arg) && isObj(arg.run) ? arg.run : arg;
  if (!isObj(a) || !str(a.entity) || !str(a.project)) return undefined;
  if (str(a.runId)) return { entity: a.entity, project: a.project, runId: a.runId };
  if (str(a.id) && 'state' in a) return { entity: a.entity, project: a.project, runId: a.id };
  return undefined;
}

/** Runs to compare: `{entity, project, runIds}`, or a tree command's (clicked row, selected rows). */
export function compareTargetsOf(first: unknown, selected: unknown): { entity: string; project: string; runIds: string[] } | { error: string } {
  if (isObj(first) && str(first.entity) && str(first.project) && Array.isArray(first.runIds)) {
    return { entity: first.entity, project: first.project, runIds: first.runIds.filter(str) };
  }
  const rows = Array.isArray(selected) && selected.length ? selected : [first];
  const runs = rows.map(runTargetOf).filter((r): r is RunTarget => !!r);
  if (runs.length < 2) return { error: 'select 2 to 10 runs in the Runs view (Ctrl/Cmd+click), then choose Compare Runs.' };
  const projects = new Set(runs.map((r) => `${r.entity}/${r.project}`));
  if (projects.size > 1) return { error: 'the selected runs belong to different projects; compare runs of one project.' };
  if (runs.length > 10) return { error: `${runs.length} runs are selected; compare at most 10 at a time.` };
  return { entity: runs[0].entity, project: runs[0].project, runIds: [...new Set(runs.map((r) => r.runId))] };
}

