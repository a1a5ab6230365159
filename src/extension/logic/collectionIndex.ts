/**
 * What the editor knows about one project's artifacts: its collections with their aliases and
 * version counts, built from the server's collection list. One `CollectionIndex` per window (in
 * ExtensionServices) serves completion, diagnostics and the resolver's "what exactly is missing".
 * Pure (no `vscode`).
 */
import type { ArtifactCollection } from '../../core/api.js';

export interface CollectionInfo {
  name: string;
  type: string;
  versionCount: number;
  /** alias → `vN` (includes `latest`). */
  aliases: Map<string, string>;
  /** `vN` of the newest version, when there is one. */
  latest?: string;
  description: string | null;
}

export interface ProjectIndex {
  entity: string;
  project: string;
  collections: Map<string, CollectionInfo>;
}

export function buildProjectIndex(entity: string, project: string, collections: readonly ArtifactCollection[]): ProjectIndex {
  const map = new Map<string, CollectionInfo>();
  for (const c of collections) {
    const aliases = new Map(c.aliases.map((a) => [a.alias, a.version] as const));
    if (c.latest && !aliases.has('latest')) aliases.set('latest', c.latest.version);
    map.set(c.name, { name: c.name, type: c.type, versionCount: c.versionCount, aliases, latest: c.latest?.version, description: c.description });
  }
  return { entity, project, collections: map };
}

/** Levenshtein distance (insert, delete, substitute), case-sensitive. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/**
 * The candidate closest to `word`, if close enough to be a plausible typo: at most a third of
 * the word's length (at least 2) edits, comparing case-insensitively. Ties go to the shorter
 * distance on the exact case, then alphabetical order.
 */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: { c: string; d: number; exact: number } | undefined;
  for (const c of candidates) {
    if (c === word) continue;
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d > limit) continue;
    const exact = editDistance(word, c);
    if (!best || d < best.d || (d === best.d && (exact < best.exact || (exact === best.exact && c < best.c)))) best = { c, d, exact };
  }
  return best?.c;
}

/**
 * Project indexes by `entity/project`, fetched on demand and kept until an event says the
 * project changed, so one keystroke costs at most one request.
 */
export class CollectionIndex {
  private readonly cache = new Map<string, Promise<ProjectIndex>>();
  constructor(private readonly fetchCollections: (entity: string, project: string) => Promise<readonly ArtifactCollection[]>) {}

  get(entity: string, project: string): Promise<ProjectIndex> {
    const key = `${entity}/${project}`;
    let p = this.cache.get(key);
    if (!p) {
      p = this.fetchCollections(entity, project).then((cols) => buildProjectIndex(entity, project, cols));
      // A failed fetch is not remembered: the next request asks again.
      p.catch(() => {
        if (this.cache.get(key) === p) this.cache.delete(key);
      });
      this.cache.set(key, p);
    }
    return p;
  }

  invalidate(entity: string, project: string): void {
    this.cache.delete(`${entity}/${project}`);
  }

  clear(): void {
    this.cache.clear();
  }
}
