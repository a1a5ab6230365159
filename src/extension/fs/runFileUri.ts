/**
 * Saved run files in the read-only `amphora:` file system: `/entity/project/~run/<runId>/<path>`.
 * `~` cannot start an artifact name, so these paths never collide with version paths. Pure.
 */
export interface RunFileLocation {
  entity: string;
  project: string;
  runId: string;
  /** Path of the saved file ('' for the run's root folder). */
  path: string;
}

const RUN_SEGMENT = '~run';

export function formatRunFilePath(l: RunFileLocation): string {
  return `/${l.entity}/${l.project}/${RUN_SEGMENT}/${l.runId}${l.path ? '/' + l.path : ''}`;
}

/** The location of a run-file path, or undefined for any other `amphora:` path. */
export function parseRunFilePath(uriPath: string): RunFileLocation | undefined {
  const segs = uriPath.replace(/^\/+/, '').split('/');
  if (segs.length < 4 || segs[2] !== RUN_SEGMENT || !segs[3]) return undefined;
  const rest = segs.slice(4);
  if (rest.some((s) => s === '..' || s === '.')) return undefined;
  return { entity: segs[0], project: segs[1], runId: segs[3], path: rest.filter(Boolean).join('/') };
}
