/**
 * Downloads with a progress notification (bytes, cancel). The SDK reports progress but takes no
 * abort signal, so cancelling throws from the progress callback: nothing is committed, and
 * partially written files are temp files the SDK never renames into place.
 */
import * as vscode from 'vscode';
import path from 'node:path';
import { Artifact } from '../../client/artifact.js';
import type { Progress } from '../../client/transfer.js';
import { defaultDownloadFolder } from '../logic/events.js';
import { formatBytes, plural } from '../logic/format.js';
import type { ConnectionManager } from '../connection/connectionManager.js';
import type { VersionTarget } from '../services.js';

export class Cancelled extends Error {
  constructor() {
    super('Cancelled.');
  }
}

/** Turns SDK progress into notification increments; throws Cancelled once the user cancels. */
export function progressReporter(progress: vscode.Progress<{ message?: string; increment?: number }>, token: vscode.CancellationToken, verb: string) {
  let lastFraction = 0;
  return (p: Progress) => {
    if (token.isCancellationRequested) throw new Cancelled();
    const fraction = p.totalBytes ? (p.bytes ?? 0) / p.totalBytes : p.total ? p.done / p.total : 0;
    const message =
      p.phase === 'hash'
        ? `hashing ${p.done}/${p.total} files`
        : `${verb} ${formatBytes(p.bytes ?? 0)}${p.totalBytes ? ` of ${formatBytes(p.totalBytes)}` : ''} (${p.done}/${plural(p.total, 'file')})`;
    const phaseShare = p.phase === 'hash' ? 0.2 : 1;
    const inc = Math.max(0, fraction * phaseShare * 100 - lastFraction);
    lastFraction += inc;
    progress.report({ message, increment: inc });
  };
}

export function workspaceRoot(): vscode.Uri | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri;
}

export async function downloadVersion(connection: ConnectionManager, target: VersionTarget, folder?: vscode.Uri): Promise<vscode.Uri | undefined> {
  const c = await connection.require();
  const v = await c.http.version(target.entity, target.project, target.name, target.version);
  let dest = folder;
  if (!dest) {
    const ws = workspaceRoot();
    if (!ws) throw new Error('Open a folder first: Use Artifact downloads into the workspace.');
    const rootSetting = vscode.workspace.getConfiguration('amphora').get<string>('downloadRoot') || 'artifacts';
    dest = vscode.Uri.file(path.resolve(ws.fsPath, defaultDownloadFolder(rootSetting, v.name, v.version)));
  }
  const artifact = Artifact.fromVersion(c.client, v);
  const ref = `${v.project}/${v.name}:${v.version}`;
  try {
    const stats = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Downloading ${ref}`, cancellable: true },
      (progress, token) => artifact.download({ root: dest!.fsPath, onProgress: progressReporter(progress, token, 'downloaded') }),
    );
    void vscode.window.setStatusBarMessage(
      `Amphora: ${ref} → ${vscode.workspace.asRelativePath(dest)} (${stats.fetched} fetched, ${stats.fromCache} from cache, ${stats.unchanged} unchanged)`,
      8_000,
    );
  } catch (e) {
    if (e instanceof Cancelled) return undefined;
    throw e;
  }
  await vscode.commands.executeCommand('revealInExplorer', dest);
  return dest;
}
