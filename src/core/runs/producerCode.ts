/**
 * Open Producer Code, decided without VS Code: which file and line a version's producer logged it
 * from, which local git work tree holds that code, and whether to open the working copy or the
 * recorded commit. Recorded paths are POSIX-style and relative to `provenance.root` when inside it.
 */
import type { CallSite, Provenance } from '../api.js';

export interface LocalRepo {
  /** Absolute path of a work tree open in the editor (a workspace folder's git top level, or the folder). */
  root: string;
  /** HEAD commit (null: not a git work tree). */
  head: string | null;
  remotes: string[];
}

export type ProducerCodePlan =
  | { kind: 'workspace'; path: string; line: number; note?: string }
  | { kind: 'commit'; path: string; line: number; commit: string; repoRoot: string }
  | { kind: 'message'; text: string };

const trimSlash = (p: string) => p.replace(/\\/g, '/').replace(/\/+$/, '');
const base = (p: string) => trimSlash(p).split('/').pop() ?? '';

/** `git@host:org/repo.git`, `https://user:pw@host/org/repo` → `host/org/repo` (compared loosely). */
export function normalizeRemote(url: string): string {
  let u = url.trim().replace(/\/+$/, '').replace(/\.git$/, '');
  const scp = /^[^/@]+@([^:/]+):(.+)$/.exec(u);
  if (scp) return `${scp[1]}/${scp[2]}`.toLowerCase();
  u = u.replace(/^[a-z+]+:\/\//i, '').replace(/^[^@/]+@/, '');
  return u.toLowerCase();
}

/** The file a version's code lives in: its `log_artifact` call site, else the run's program. */
export function producerFile(prov: Provenance | null | undefined, callSite: CallSite | null | undefined): { file: string; line: number } | null {
  if (callSite) return { file: callSite.file, line: callSite.line };
  if (prov?.program) return { file: prov.program, line: 1 };
  return null;
}

/** Path of `file` inside the recorded root (null when it lies outside it). */
export function relativeToRoot(file: string, root: string | null): string | null {
  const f = trimSlash(file);
  if (!f.startsWith('/') && !/^[A-Za-z]:\//.test(f)) return f.replace(/^\.\//, '');
  if (!root) return null;
  const r = trimSlash(root);
  return f.startsWith(r + '/') ? f.slice(r.length + 1) : null;
}

/**
 * Picks the local work tree for recorded code: the same path (same machine), else a clone with the
 * same remote, else a work tree with the same folder name, else the only one open.
 */
export function matchRepo(prov: Provenance, repos: LocalRepo[]): LocalRepo | null {
  if (repos.length === 0) return null;
  const root = prov.root ? trimSlash(prov.root) : null;
  const same = root ? repos.find((r) => trimSlash(r.root) === root) : undefined;
  if (same) return same;
  const remote = prov.git?.remote ? normalizeRemote(prov.git.remote) : null;
  const byRemote = remote ? repos.find((r) => r.remotes.some((x) => normalizeRemote(x) === remote)) : undefined;
  if (byRemote) return byRemote;
  const byName = root ? repos.filter((r) => base(r.root) === base(root)) : [];
  if (byName.length === 1) return byName[0];
  return repos.length === 1 ? repos[0] : null;
}

export function planProducerCode(input: {
  what: string;
  provenance: Provenance | null | undefined;
  callSite: CallSite | null | undefined;
  repos: LocalRepo[];
  /** Whether the recorded commit exists in the matched repo (asked only when needed). */
  commitExists?: (repo: LocalRepo, commit: string) => boolean;
}): ProducerCodePlan {
  const { what, provenance: prov } = input;
  const target = producerFile(prov, input.callSite);
  if (!prov || !target) return { kind: 'message', text: `${what} has no recorded code location: its run was logged by a client that does not record provenance. Log it again with a current client.` };
  const rel = relativeToRoot(target.file, prov.root);
  if (rel === null) return { kind: 'message', text: `${what} was produced by ${target.file}, outside the recorded project folder ${prov.root ?? '(unknown)'}; open it yourself if it exists on this machine.` };
  const repo = matchRepo(prov, input.repos);
  if (!repo) {
    const where = prov.root ? base(prov.root) : 'its project';
    return { kind: 'message', text: `${what} was produced by ${rel}:${target.line} in ${where}, which is not open here. Open that folder (or a clone of it) as a workspace folder and try again.` };
  }
  const path = `${trimSlash(repo.root)}/${rel}`;
  const git = prov.git;
  if (!git) return { kind: 'workspace', path, line: target.line, note: `${what}'s run recorded no git commit, so this is the current file, which may have changed since.` };
  if (!repo.head) return { kind: 'workspace', path, line: target.line, note: `${repo.root} is not a git work tree, so commit ${git.commit.slice(0, 8)} cannot be opened; this is the current file, which may differ.` };
  const dirtyNote = git.dirty ? ` The run's work tree had uncommitted changes${git.diffFile ? ` (saved with the run as ${git.diffFile})` : ''}.` : '';
  if (repo.head === git.commit) return { kind: 'workspace', path, line: target.line, note: dirtyNote ? dirtyNote.trim() : undefined };
  if (input.commitExists && !input.commitExists(repo, git.commit)) {
    return { kind: 'message', text: `${what} was produced at commit ${git.commit.slice(0, 8)}${git.branch ? ` (${git.branch})` : ''}, which is not in ${repo.root} (fetch it, e.g. \`git fetch --all\`, or it was rewritten). The file is ${rel}:${target.line}.` };
  }
  return { kind: 'commit', path, line: target.line, commit: git.commit, repoRoot: repo.root };
}
