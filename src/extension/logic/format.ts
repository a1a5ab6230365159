/**
 * How the extension writes sizes, ages and version summaries. Pure functions (no `vscode`), so
 * the tree, CodeLens and hover texts are tested in plain Node.
 */
import type { ArtifactVersion } from '../../core/api.js';
import { codeSpan, escapeMarkdown, escapeMarkdownInline } from './safeText.js';

import { formatBytes } from '../../core/bytes.js';

export { formatBytes };

/** "just now", "42 s ago", "5 min ago", "2 h ago", "3 d ago", "4 mo ago", "2 y ago". */
export function formatAge(iso: string | Date, now: number = Date.now()): string {
  const t = typeof iso === 'string' ? Date.parse(iso) : iso.getTime();
  if (!Number.isFinite(t)) return '?';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ago`;
  const d = Math.floor(h / 24);
  if (d < 30) return `${d} d ago`;
  const mo = Math.floor(d / 30);
  if (mo < 12) return `${mo} mo ago`;
  return `${Math.floor(d / 365)} y ago`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Aliases other than the version's own number, `latest` first. */
export function displayAliases(v: Pick<ArtifactVersion, 'aliases'>): string[] {
  return [...v.aliases].sort((a, b) => (a === 'latest' ? -1 : b === 'latest' ? 1 : a.localeCompare(b)));
}

/** Label of a version row: "v3". */
export function versionLabel(v: Pick<ArtifactVersion, 'version'>): string {
  return v.version;
}

/** Description of a version row: "latest, best · 52 MiB · 2 h ago". */
export function versionRowDescription(v: ArtifactVersion, now = Date.now()): string {
  const aliases = displayAliases(v);
  return [aliases.length ? aliases.join(', ') : undefined, formatBytes(v.size), formatAge(v.createdAt, now)]
    .filter(Boolean)
    .join(' · ');
}

/** "load-data/sunny-smoke-1" or "sunny-smoke-1" when the run has no job type. */
export function runLabel(run: { name: string; jobType: string | null } | null | undefined): string | undefined {
  if (!run) return undefined;
  return run.jobType ? `${run.jobType}/${run.name}` : run.name;
}

/** The CodeLens text: "mnist-raw:latest → v3 · 3 files · 52 MiB · 2 h ago by load-data/sunny-smoke-1". */
export function lensTitle(refText: string, v: ArtifactVersion, now = Date.now()): string {
  const by = runLabel(v.producerRun);
  return `${refText} → ${v.version} · ${plural(v.fileCount, 'file')} · ${formatBytes(v.size)} · ${formatAge(v.createdAt, now)}${by ? ` by ${by}` : ''}`;
}

export { escapeMarkdown } from './safeText.js';

function cell(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const short = text.length > 200 ? `${text.slice(0, 199)}…` : text;
  return escapeMarkdownInline(short);
}

/** Metadata as a two-column Markdown table ("" when there is none). */
export function metadataTable(metadata: Record<string, unknown>, maxRows = 30): string {
  const keys = Object.keys(metadata);
  if (keys.length === 0) return '';
  const rows = keys.slice(0, maxRows).map((k) => `| ${cell(k)} | ${cell(metadata[k])} |`);
  if (keys.length > maxRows) rows.push(`| … | ${keys.length - maxRows} more keys |`);
  return ['| key | value |', '| --- | --- |', ...rows].join('\n');
}

/** The run tooltip: name, id, job type, group, state, creation time and the first config keys. */
export function runMarkdown(r: { name: string; id: string; jobType: string | null; group: string | null; state: string; createdAt: string; config: Record<string, unknown> }): string {
  const config = Object.entries(r.config)
    .slice(0, 12)
    .map(([k, v]) => `- ${escapeMarkdownInline(k)}: ${codeSpan(truncate(JSON.stringify(v) ?? String(v), 200))}`)
    .join('\n');
  return [
    `**${escapeMarkdownInline(r.name)}** (${escapeMarkdownInline(r.id)})`,
    `job type: ${escapeMarkdownInline(r.jobType ?? '—')} · group: ${escapeMarkdownInline(r.group ?? '—')} · ${escapeMarkdownInline(r.state)}`,
    `created ${escapeMarkdownInline(isoMinute(r.createdAt))} UTC`,
    ...(config ? [`config:\n${config}`] : []),
  ].join('\n\n');
}

/** The collection tooltip: name, type and description. */
export function collectionMarkdown(c: { name: string; type: string; description: string | null }): string {
  return `**${escapeMarkdownInline(c.name)}** (${escapeMarkdownInline(c.type)})${c.description ? `\n\n${escapeMarkdown(c.description)}` : ''}`;
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** "2026-01-02 03:04:05" from a server timestamp (shown as given when it does not parse). */
function isoMinute(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().replace('T', ' ').slice(0, 19);
}

/** The Markdown body shared by the version tooltip and the reference hover. */
export function versionMarkdown(v: ArtifactVersion, now = Date.now()): string {
  const lines: string[] = [];
  lines.push(`**${escapeMarkdownInline(`${v.project}/${v.name}:${v.version}`)}** (${escapeMarkdownInline(v.type)})`);
  lines.push('');
  const aliases = displayAliases(v);
  lines.push(`- aliases: ${aliases.length ? aliases.map(codeSpan).join(' ') : 'none'}`);
  lines.push(`- digest: ${codeSpan(v.digest)}`);
  lines.push(`- ${plural(v.fileCount, 'file')}, ${formatBytes(v.size)}`);
  const by = runLabel(v.producerRun);
  lines.push(`- produced by: ${by ? `run ${escapeMarkdownInline(by)} (${escapeMarkdownInline(v.producerRun!.id)})` : 'no run (logged directly)'}`);
  lines.push(`- created: ${escapeMarkdownInline(isoMinute(v.createdAt))} UTC (${escapeMarkdownInline(formatAge(v.createdAt, now))})${v.createdBy ? ` by ${escapeMarkdownInline(v.createdBy)}` : ''}`);
  if (v.updatedBy) lines.push(`- last changed by ${escapeMarkdownInline(v.updatedBy)}`);
  if (v.description) {
    lines.push('');
    lines.push(escapeMarkdown(v.description));
  }
  const table = metadataTable(v.metadata);
  if (table) {
    lines.push('');
    lines.push(table);
  }
  return lines.join('\n');
}
