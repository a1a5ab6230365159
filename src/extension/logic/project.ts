/**
 * Which project an unqualified reference (`mnist-raw:latest`) means: the project the file names
 * in `init(project="…")` (Python) or `init({ project: '…' })` (TypeScript), else the workspace's
 * `amphora.project` setting, else the only project on the server; otherwise it is ambiguous.
 */
const PY_INIT = /\binit\s*\([^)]*?\bproject\s*=\s*(["'])([A-Za-z0-9_.-]{1,128})\1/;
const TS_INIT = /\binit\s*\(\s*\{[^}]*?\bproject\s*:\s*(["'`])([A-Za-z0-9_.-]{1,128})\1/;

export function projectFromSource(source: string): string | undefined {
  const m = PY_INIT.exec(source) ?? TS_INIT.exec(source);
  return m?.[2];
}

export type ProjectChoice =
  | { kind: 'project'; project: string; source: 'reference' | 'file' | 'setting' | 'only' }
  | { kind: 'ambiguous'; candidates: string[] }
  | { kind: 'none' };

export function chooseProject(opts: {
  fromReference?: string;
  fromFile?: string;
  fromSetting?: string;
  projects: readonly string[];
}): ProjectChoice {
  if (opts.fromReference) return { kind: 'project', project: opts.fromReference, source: 'reference' };
  if (opts.fromFile) return { kind: 'project', project: opts.fromFile, source: 'file' };
  const setting = opts.fromSetting?.trim();
  if (setting) return { kind: 'project', project: setting, source: 'setting' };
  if (opts.projects.length === 1) return { kind: 'project', project: opts.projects[0], source: 'only' };
  if (opts.projects.length === 0) return { kind: 'none' };
  return { kind: 'ambiguous', candidates: [...opts.projects].sort() };
}

/** What the lens/hover says when no project can be chosen. */
export function projectProblem(choice: ProjectChoice, refText: string): string | undefined {
  if (choice.kind === 'ambiguous') {
    return `${refText}: ambiguous project (${choice.candidates.slice(0, 5).join(', ')}${choice.candidates.length > 5 ? ', …' : ''}); add init(project="…") or set amphora.project`;
  }
  if (choice.kind === 'none') return `${refText}: no projects on the server yet`;
  return undefined;
}
