/**
 * *Open Producer Code*: opens the line that logged a version (or the run's program, or a
 * `use_artifact` line) in the local work tree that holds the same code — at the recorded commit
 * through VS Code's `git:` scheme when the work tree has moved on, or with a clear message when
 * the commit is not there or the code is not open. The decisions live in core/runs/producerCode.ts.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as vscode from 'vscode';
import type { CallSite, Provenance } from '../../core/api.js';
import { planProducerCode, type LocalRepo } from '../../core/runs/producerCode.js';
import { notificationText } from '../logic/safeText.js';
import type { ExtensionServices } from '../services.js';
import { resolveVersionArg } from './targets.js';
import { pickVersion } from '../commands/pickVersion.js';

const run = promisify(execFile);

async function git(cwd: string, args: string[]): Promise<string | null> {
  try {
    const { stdout } = await run('git', args, { cwd, timeout: 10_000, windowsHide: true });
    return stdout.trim();
  } catch {
    return null; // not a work tree, or git is not installed
  }
}

/** The git work trees (or plain folders) open in this window. */
export async function localRepos(): Promise<LocalRepo[]> {
  const out: LocalRepo[] = [];
  for (const f of vscode.workspace.workspaceFolders ?? []) {
    if (f.uri.scheme !== 'file') continue;
    const top = await git(f.uri.fsPath, ['rev-parse', '--show-toplevel']);
    if (!top) {
      out.push({ root: f.uri.fsPath, head: null, remotes: [] });
      continue;
    }
    const head = await git(top, ['rev-parse', 'HEAD']);
    const remotes = (await git(top, ['remote', '-v']))?.split('\n').map((l) => l.split(/\s+/)[1]).filter(Boolean) ?? [];
    if (!out.some((r) => r.root === top)) out.push({ root: top, head, remotes: [...new Set(remotes)] });
  }
  return out;
}

async function commitExists(repo: LocalRepo, commit: string): Promise<boolean> {
  return (await git(repo.root, ['cat-file', '-e', `${commit}^{commit}`])) !== null;
}

interface GitApi {
  toGitUri(uri: vscode.Uri, ref: string): vscode.Uri;
}

/** The `git:` URI of a file at a commit, from VS Code's git extension (its own format otherwise). */
async function gitUri(file: vscode.Uri, ref: string): Promise<vscode.Uri> {
  const ext = vscode.extensions.getExtension<{ getAPI(v: 1): GitApi }>('vscode.git');
  try {
    const api = (ext?.isActive ? ext.exports : await ext?.activate())?.getAPI(1);
    if (api) return api.toGitUri(file, ref);
  } catch {
    // The git extension is disabled: fall back to the scheme it registers.
  }
  return file.with({ scheme: 'git', path: file.path, query: JSON.stringify({ path: file.fsPath, ref }) });
}

/** Opens recorded code; returns what it did (for tests and the caller's messages). */
export async function openCode(what: string, provenance: Provenance | null | undefined, callSite: CallSite | null | undefined): Promise<string> {
  const repos = await localRepos();
  // commitExists is asked only when the plan needs it; resolve it up front for the one repo concerned.
  const head = planProducerCode({ what, provenance, callSite, repos });
  let plan = head;
  if (head.kind === 'commit') {
    const repo = repos.find((r) => r.root === head.repoRoot)!;
    const exists = await commitExists(repo, head.commit);
    plan = planProducerCode({ what, provenance, callSite, repos, commitExists: () => exists });
  }
  if (plan.kind === 'message') {
    void vscode.window.showWarningMessage(notificationText(`Open Producer Code: ${plan.text}`));
    return `message: ${plan.text}`;
  }
  const file = vscode.Uri.file(plan.path);
  const uri = plan.kind === 'commit' ? await gitUri(file, plan.commit) : file;
  const line = Math.max(0, plan.line - 1);
  try {
    const doc = await vscode.workspace.openTextDocument(uri);
    const range = new vscode.Range(line, 0, line, 0);
    await vscode.window.showTextDocument(doc, { selection: range, preview: true });
  } catch (e) {
    const where = plan.kind === 'commit' ? ` at commit ${plan.commit.slice(0, 8)}` : '';
    void vscode.window.showWarningMessage(notificationText(`Open Producer Code: could not open ${plan.path}${where}: ${(e as Error).message}. The file may have been moved or deleted.`));
    return `failed: ${plan.path}`;
  }
  if (plan.kind === 'workspace' && plan.note) void vscode.window.showInformationMessage(notificationText(plan.note));
  return plan.kind === 'commit' ? `commit ${plan.commit}: ${plan.path}:${plan.line}` : `workspace: ${plan.path}:${plan.line}`;
}

export function registerProducerCode(context: vscode.ExtensionContext, services: ExtensionServices): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('amphora.openProducerCode', async (arg?: unknown) => {
      try {
        // From the palette with no reference under the cursor: ask for the version.
        const v = (await resolveVersionArg(services, arg)) ?? (arg === undefined ? await pickVersion(services, 'Open Producer Code') : undefined);
        if (!v) {
          if (arg !== undefined) void vscode.window.showErrorMessage('Open Producer Code: choose a version (a row in the Artifacts view, or a reference in code).');
          return undefined;
        }
        const label = `${v.name}:${v.version}`;
        if (!v.producerRun) {
          void vscode.window.showInformationMessage(notificationText(`Open Producer Code: ${label} was logged directly, not by a run, so there is no code to open.`));
          return `message: no producer run`;
        }
        const c = await services.connection.require();
        const producer = await c.http.getRun(v.entity, v.project, v.producerRun.id);
        return await openCode(label, producer.provenance, v.callSite);
      } catch (e) {
        void vscode.window.showErrorMessage(notificationText(`Open Producer Code: ${(e as Error).message}`));
        return undefined;
      }
    }),
    vscode.commands.registerCommand('amphora.openRunCode', async (arg?: { entity?: string; project?: string; runId?: string; callSite?: CallSite | null }) => {
      try {
        if (!arg?.entity || !arg.project || !arg.runId) return undefined;
        const c = await services.connection.require();
        const r = await c.http.getRun(arg.entity, arg.project, arg.runId);
        return await openCode(`Run ${r.name}`, r.provenance, arg.callSite ?? null);
      } catch (e) {
        void vscode.window.showErrorMessage(notificationText(`Open Code: ${(e as Error).message}`));
        return undefined;
      }
    }),
  );
}
