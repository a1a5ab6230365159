/**
 * Compares the manifests of two artifact versions: which files were added, removed or changed
 * (by digest), with sizes, plus a text rendering for a read-only document and a guess at which
 * changed files are text (so the editor can offer its side-by-side diff for those).
 */
import type { ManifestWire } from './api.js';
import { formatBytes } from './bytes.js';

export interface FileChange {
  path: string;
  status: 'added' | 'removed' | 'changed';
  /** Size in the older version (absent when added). */
  sizeBefore?: number;
  /** Size in the newer version (absent when removed). */
  sizeAfter?: number;
  digestBefore?: string;
  digestAfter?: string;
}

export interface ManifestDiff {
  changes: FileChange[];
  added: number;
  removed: number;
  changed: number;
  unchanged: number;
  /** Sum of sizes, before and after. */
  bytesBefore: number;
  bytesAfter: number;
}

/** Changes from `before` to `after`, sorted by path. Equal digests are unchanged (even if `ref`s differ in spelling). */
export function diffManifests(before: ManifestWire, after: ManifestWire): ManifestDiff {
  const changes: FileChange[] = [];
  let unchanged = 0;
  let bytesBefore = 0;
  let bytesAfter = 0;
  for (const [path, a] of Object.entries(before)) {
    bytesBefore += a.size;
    const b = after[path];
    if (!b) changes.push({ path, status: 'removed', sizeBefore: a.size, digestBefore: a.digest });
    else if (a.digest !== b.digest) changes.push({ path, status: 'changed', sizeBefore: a.size, sizeAfter: b.size, digestBefore: a.digest, digestAfter: b.digest });
    else unchanged++;
  }
  for (const [path, b] of Object.entries(after)) {
    bytesAfter += b.size;
    if (!(path in before)) changes.push({ path, status: 'added', sizeAfter: b.size, digestAfter: b.digest });
  }
  changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  const count = (s: FileChange['status']) => changes.filter((c) => c.status === s).length;
  return { changes, added: count('added'), removed: count('removed'), changed: count('changed'), unchanged, bytesBefore, bytesAfter };
}

const TEXT_EXTENSIONS = new Set([
  'txt', 'md', 'markdown', 'rst', 'csv', 'tsv', 'json', 'jsonl', 'ndjson', 'yaml', 'yml', 'toml', 'ini', 'cfg', 'conf', 'xml',
  'html', 'htm', 'css', 'js', 'mjs', 'cjs', 'ts', 'tsx', 'jsx', 'py', 'ipynb', 'r', 'sql', 'sh', 'bash', 'log', 'tex', 'svg',
  'java', 'c', 'h', 'cpp', 'hpp', 'go', 'rs', 'rb', 'php', 'scala', 'kt', 'swift', 'lua', 'pl', 'properties', 'env', 'gitignore',
]);
/** Above this the diff editor would be slow and the diff unreadable anyway. */
export const MAX_TEXT_DIFF_BYTES = 5 * 1024 * 1024;

/** Whether a file is worth opening in the text diff editor (by extension and size). */
export function isTextDiffable(path: string, size: number | undefined): boolean {
  if (size !== undefined && size > MAX_TEXT_DIFF_BYTES) return false;
  const base = path.split('/').pop() ?? path;
  const dot = base.lastIndexOf('.');
  const ext = dot === -1 ? base.toLowerCase() : base.slice(dot + 1).toLowerCase();
  return TEXT_EXTENSIONS.has(ext) || ['readme', 'license', 'makefile', 'dockerfile'].includes(base.toLowerCase());
}

function sizeChange(c: FileChange): string {
  if (c.status === 'added') return formatBytes(c.sizeAfter ?? 0);
  if (c.status === 'removed') return formatBytes(c.sizeBefore ?? 0);
  const delta = (c.sizeAfter ?? 0) - (c.sizeBefore ?? 0);
  const sign = delta > 0 ? '+' : delta < 0 ? '−' : '±';
  return `${formatBytes(c.sizeBefore ?? 0)} → ${formatBytes(c.sizeAfter ?? 0)} (${sign}${formatBytes(Math.abs(delta))})`;
}

/** The diff as a plain-text report (shown as a read-only document). */
export function renderManifestDiff(diff: ManifestDiff, left: string, right: string): string {
  const lines = [
    `Compare ${left} → ${right}`,
    `${diff.added} added, ${diff.removed} removed, ${diff.changed} changed, ${diff.unchanged} unchanged · ${formatBytes(diff.bytesBefore)} → ${formatBytes(diff.bytesAfter)}`,
    '',
  ];
  if (diff.changes.length === 0) lines.push('The two versions hold the same files.');
  const mark = { added: '+', removed: '-', changed: '~' } as const;
  for (const c of diff.changes) lines.push(`${mark[c.status]} ${c.status.padEnd(7)} ${c.path}  ${sizeChange(c)}`);
  return lines.join('\n') + '\n';
}
