/**
 * Code provenance, recorded at `init`: the program, the git work tree it lives in (commit,
 * branch, remote without credentials, dirty flag) and, for a dirty tree, `git diff HEAD` bounded
 * to 1 MiB (saved as a run file). No git, or no git installed: `git: null`, never a failure.
 * Call sites: the first stack frame outside the SDK, relative to the work tree.
 */
import { spawn } from 'node:child_process';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CallSite, Provenance } from '../core/api.js';

export const DIFF_LIMIT = 1 << 20;
/** The run file that holds the diff of a dirty tree. */
export const DIFF_FILE = 'code/git.diff';

export interface CapturedProvenance {
  provenance: Provenance;
  /** `git diff HEAD` of a dirty tree (at most DIFF_LIMIT bytes), to save as DIFF_FILE. */
  diff: Buffer | null;
}

interface GitOut {
  ok: boolean;
  out: Buffer;
  truncated: boolean;
}

/** Runs git with a byte cap on stdout; a missing git binary or a failure is `ok: false`. */
function git(args: string[], cwd: string, opts: { limit?: number; gitBinary?: string } = {}): Promise<GitOut> {
  const limit = opts.limit ?? 64 * 1024;
  return new Promise((done) => {
    let child;
    try {
      child = spawn(opts.gitBinary ?? 'git', args, { cwd, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' } });
    } catch {
      return done({ ok: false, out: Buffer.alloc(0), truncated: false });
    }
    const parts: Buffer[] = [];
    let size = 0;
    let truncated = false;
    child.stdout.on('data', (d: Buffer) => {
      if (truncated) return;
      if (size + d.length > limit) {
        parts.push(d.subarray(0, limit - size));
        size = limit;
        truncated = true;
        child.kill();
        return;
      }
      parts.push(d);
      size += d.length;
    });
    child.on('error', () => done({ ok: false, out: Buffer.alloc(0), truncated: false }));
    child.on('close', (code) => done({ ok: truncated || code === 0, out: Buffer.concat(parts), truncated }));
  });
}

/**
 * A remote URL without credentials: `https://user:token@host/x.git` → `https://host/x.git`. An
 * http(s) user name goes too (tokens travel there); an ssh user name (`git@host:x.git`) stays.
 */
export function stripCredentials(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/@]*@)(.*)$/i.exec(url);
  if (!m) return url;
  const scheme = m[1].toLowerCase();
  if (scheme.startsWith('http') || scheme.startsWith('ftp')) return m[1] + m[3];
  const user = m[2].slice(0, -1).split(':')[0];
  return `${m[1]}${user}@${m[3]}`;
}

/** `file` relative to `root` when inside it (POSIX separators), else absolute. */
export function relativeTo(root: string | null, file: string): string {
  const abs = resolve(file);
  if (root) {
    const rel = relative(root, abs);
    if (rel && !rel.startsWith('..') && !isAbsolute(rel)) return rel.split(sep).join('/');
  }
  return abs;
}

export async function captureProvenance(opts: { program?: string | null; cwd?: string; gitBinary?: string } = {}): Promise<CapturedProvenance> {
  const cwd = opts.cwd ?? process.cwd();
  const programAbs = opts.program === undefined ? (process.argv[1] ? resolve(process.argv[1]) : null) : opts.program && resolve(cwd, opts.program);
  const where = programAbs ? dirname(programAbs) : cwd;
  const g = (args: string[], limit?: number) => git(args, where, { limit, gitBinary: opts.gitBinary });
  const top = await g(['rev-parse', '--show-toplevel']);
  const head = top.ok ? await g(['rev-parse', '--verify', '-q', 'HEAD']) : null;
  const commit = head?.ok ? head.out.toString().trim() : '';
  if (!top.ok || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commit)) {
    // Not a git work tree (or git is missing, or the repository has no commit yet).
    return { provenance: { program: programAbs ? relativeTo(cwd, programAbs) : null, root: cwd, git: null }, diff: null };
  }
  const root = top.out.toString().trim();
  const [branch, remotes, status] = await Promise.all([g(['symbolic-ref', '--short', '-q', 'HEAD']), g(['remote']), g(['status', '--porcelain', '-z', '--untracked-files=all'], DIFF_LIMIT)]);
  const remoteName = remotes.ok ? (remotes.out.toString().split('\n').map((s) => s.trim()).filter(Boolean).sort((a, b) => Number(b === 'origin') - Number(a === 'origin'))[0] ?? null) : null;
  const remoteUrl = remoteName ? await g(['remote', 'get-url', remoteName]) : null;
  const { changed, untracked } = status.ok ? parseStatus(status.out) : { changed: false, untracked: [] };
  const dirty = changed || untracked.length > 0;
  let diff: Buffer | null = null;
  let diffTruncated = false;
  if (changed) {
    const d = await g(['diff', 'HEAD', '--no-color', '--no-ext-diff'], DIFF_LIMIT);
    if (d.ok && d.out.length) {
      diff = d.out;
      diffTruncated = d.truncated;
    }
  }
  if (untracked.length && !diffTruncated) ({ diff, truncated: diffTruncated } = withUntrackedNames(diff ?? Buffer.alloc(0), untracked));
  return {
    provenance: {
      program: programAbs ? relativeTo(root, programAbs) : null,
      root,
      git: {
        commit,
        branch: branch.ok ? branch.out.toString().trim() || null : null,
        remote: remoteUrl?.ok ? stripCredentials(remoteUrl.out.toString().trim()) || null : null,
        dirty,
        untracked: untracked.length,
        diffFile: diff ? DIFF_FILE : null,
        diffTruncated,
      },
    },
    diff,
  };
}

/** Whether tracked files changed, and the untracked (not ignored) file names, from `git status --porcelain -z`. */
export function parseStatus(out: Buffer): { changed: boolean; untracked: string[] } {
  const entries = out.toString('utf8').split('\0');
  let changed = false;
  const untracked: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e.length < 4) continue;
    if (e.startsWith('??')) untracked.push(e.slice(3));
    else {
      changed = true;
      if (e[0] === 'R' || e[0] === 'C') i++; // a rename or copy is followed by its source path
    }
  }
  return { changed, untracked };
}

/** The diff followed by the untracked files' names (never their contents), within DIFF_LIMIT. */
export function withUntrackedNames(diff: Buffer, names: string[]): { diff: Buffer; truncated: boolean } {
  const parts = [diff];
  let size = diff.length;
  const lines = [`# ${names.length} untracked file${names.length === 1 ? '' : 's'} (names only, not in the diff):\n`, ...names.map((n) => `# ?? ${n}\n`)];
  for (const line of lines) {
    const b = Buffer.from(line);
    if (size + b.length > DIFF_LIMIT) return { diff: Buffer.concat(parts), truncated: true };
    parts.push(b);
    size += b.length;
  }
  return { diff: Buffer.concat(parts), truncated: false };
}

const SDK_DIR = dirname(fileURLToPath(import.meta.url));

/**
 * The user's line that called into the SDK: the first stack frame outside the SDK's own folder
 * (src/client, or the bundle's folder) and outside Node's internals. Call it before any await.
 */
export function callerSite(root: string | null, sdkDir = SDK_DIR): CallSite | undefined {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 50;
  Error.captureStackTrace(holder, callerSite);
  Error.stackTraceLimit = limit;
  for (const line of (holder.stack ?? '').split('\n').slice(1)) {
    const m = /\(?((?:file:\/\/)?[^()\s][^()]*?):(\d+):(\d+)\)?\s*$/.exec(line.trim().replace(/^at\s+(async\s+)?/, ''));
    if (!m) continue;
    let file = m[1];
    if (file.startsWith('node:') || file.startsWith('internal/')) continue;
    if (file.startsWith('file://')) file = fileURLToPath(file);
    if (!isAbsolute(file)) continue;
    if (file === sdkDir || file.startsWith(sdkDir + sep) || file.includes(`${sep}node_modules${sep}`)) continue;
    return { file: relativeTo(root, file).slice(0, 4096), line: Number(m[2]) };
  }
  return undefined;
}
