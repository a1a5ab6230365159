/**
 * Completion inside an artifact reference string (`use_artifact("mnist-|")`): artifact names
 * before the `:`, aliases and version numbers after it. Pure; offsets are within the string's
 * text, so the provider maps them onto the document.
 */
import type { ProjectIndex } from '../logic/collectionIndex.js';

export interface RefCompletion {
  label: string;
  insertText: string;
  kind: 'artifact' | 'alias' | 'version';
  detail: string;
  /** Keeps aliases before versions and the newest versions first. */
  sortText: string;
  /** Range to replace, as offsets into the reference text. */
  replaceStart: number;
  replaceEnd: number;
}

/** How many version numbers to offer (newest first). */
export const MAX_VERSION_ITEMS = 20;

/** Where the cursor is inside the reference text: on the name, or on the selector after `:`. */
export function completionTarget(text: string, offset: number): { part: 'name'; entity?: string; project?: string; start: number; end: number } | { part: 'selector'; name: string; entity?: string; project?: string; start: number; end: number } {
  const colon = text.indexOf(':');
  const pathEnd = colon === -1 ? text.length : colon;
  const segments = text.slice(0, pathEnd).split('/');
  const qualifiers = segments.slice(0, -1);
  const project = qualifiers.length >= 1 ? qualifiers[qualifiers.length - 1] : undefined;
  const entity = qualifiers.length === 2 ? qualifiers[0] : undefined;
  if (colon !== -1 && offset > colon) {
    return { part: 'selector', name: segments[segments.length - 1], entity, project, start: colon + 1, end: text.length };
  }
  const start = text.lastIndexOf('/', Math.max(0, offset - 1)) + 1;
  return { part: 'name', entity, project, start: Math.min(start, pathEnd), end: pathEnd };
}

export function referenceCompletions(text: string, offset: number, index: ProjectIndex | undefined): RefCompletion[] {
  if (!index) return [];
  const t = completionTarget(text, offset);
  if (t.part === 'name') {
    return [...index.collections.values()].map((c) => ({
      label: c.name,
      insertText: c.name,
      kind: 'artifact' as const,
      detail: `${c.type} · ${c.versionCount} version${c.versionCount === 1 ? '' : 's'}${c.latest ? ` · latest ${c.latest}` : ''}`,
      sortText: c.name,
      replaceStart: t.start,
      replaceEnd: t.end,
    }));
  }
  const c = index.collections.get(t.name);
  if (!c) return [];
  const items: RefCompletion[] = [];
  const aliases = [...c.aliases.entries()].sort(([a], [b]) => (a === 'latest' ? -1 : b === 'latest' ? 1 : a.localeCompare(b)));
  aliases.forEach(([alias, version], i) => {
    items.push({ label: alias, insertText: alias, kind: 'alias', detail: `alias → ${version} (moves)`, sortText: `0${String(i).padStart(4, '0')}`, replaceStart: t.start, replaceEnd: t.end });
  });
  const newest = c.latest ? Number(c.latest.slice(1)) : c.versionCount - 1;
  for (let i = newest, n = 0; i >= 0 && n < MAX_VERSION_ITEMS; i--, n++) {
    const v = `v${i}`;
    const tags = aliases.filter(([, ver]) => ver === v).map(([a]) => a);
    items.push({ label: v, insertText: v, kind: 'version', detail: `version (pinned)${tags.length ? ` · ${tags.join(', ')}` : ''}`, sortText: `1${String(n).padStart(4, '0')}`, replaceStart: t.start, replaceEnd: t.end });
  }
  return items;
}
