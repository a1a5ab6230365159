/**
 * What a server event changes, as keys the views and the reference cache understand.
 * A collection key is "entity/project/name"; a project key "entity/project".
 */
import type { ServerEvent } from '../../core/api.js';

export interface EventImpact {
  entity: string;
  project: string;
  /** The artifact collection whose versions or aliases changed, if any. */
  collection?: string;
  /** True when a run's state or edges changed. */
  run?: boolean;
}

export function impactOf(e: ServerEvent): EventImpact {
  switch (e.type) {
    case 'version.created':
    case 'version.updated':
    case 'version.deleted':
      return { entity: e.version.entity, project: e.version.project, collection: e.version.name };
    case 'alias.moved':
      return { entity: e.entity, project: e.project, collection: e.name };
    case 'run.updated':
      return { entity: e.run.entity, project: e.run.project, run: true };
    case 'run.logged':
      return { entity: e.entity, project: e.project };
  }
}

export function collectionKey(entity: string, project: string, name: string): string {
  return `${entity}/${project}/${name}`;
}

/** The JSON line the standalone server prints once it listens, or undefined for other output. */
/** A start-up step the server announced (`{"event":"starting","step":…}`), or undefined. */
export function parseStartingLine(line: string): string | undefined {
  const t = line.trim();
  if (!t.startsWith('{"event":"starting"')) return undefined;
  try {
    const o = JSON.parse(t) as Record<string, unknown>;
    return typeof o.step === 'string' ? o.step.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}

export function parseListeningLine(line: string): { url: string; dataDir?: string; pid?: number } | undefined {
  const t = line.trim();
  if (!t.startsWith('{')) return undefined;
  try {
    const o = JSON.parse(t) as Record<string, unknown>;
    if (o.event === 'listening' && typeof o.url === 'string') {
      return { url: o.url, dataDir: typeof o.dataDir === 'string' ? o.dataDir : undefined, pid: typeof o.pid === 'number' ? o.pid : undefined };
    }
  } catch {
    /* not JSON: ordinary log output */
  }
  return undefined;
}

/** Groups runs by job type (runs without one under "(no job type)"), newest first inside each. */
export const NO_JOB_TYPE = '(no job type)';
export function groupByJobType<T extends { jobType: string | null; createdAt: string }>(runs: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const r of runs) {
    const k = r.jobType ?? NO_JOB_TYPE;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(r);
  }
  for (const list of groups.values()) list.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return new Map([...groups].sort(([a], [b]) => (a === NO_JOB_TYPE ? 1 : b === NO_JOB_TYPE ? -1 : a.localeCompare(b))));
}

/** Default download folder for a version: `<root>/<name>:<version>` (`-` instead of `:` on Windows). */
export function defaultDownloadFolder(root: string, name: string, version: string, platform: string = process.platform): string {
  return `${root.replace(/[\\/]+$/, '')}/${name}${platform === 'win32' ? '-' : ':'}${version}`;
}

/** Parses comma/space separated aliases typed into an input box. */
export function parseAliasList(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean))];
}

/** A name the artifact rules accept, derived from a file or folder name ("My Data (1)" → "My-Data-1"). */
export function suggestName(base: string): string {
  const cleaned = base.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 128);
  return cleaned || 'artifact';
}
