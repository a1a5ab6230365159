/**
 * Compare two versions of an artifact: a manifest diff (added, removed, changed files with
 * sizes) as a read-only document, then VS Code's diff editor for changed text files, reading
 * both sides through the `amphora:` file system (nothing is downloaded into the workspace).
 */
import * as vscode from 'vscode';
import type { ArtifactVersion } from '../../core/api.js';
import { diffManifests, isTextDiffable, renderManifestDiff, type ManifestDiff } from '../../core/manifestDiff.js';
import { amphoraUri } from '../fs/amphoraFileSystem.js';
import type { ExtensionServices, VersionTarget } from '../services.js';
import { notificationText } from '../logic/safeText.js';
import { producerDeltaText } from './producerDelta.js';
import { pickVersion } from '../commands/pickVersion.js';

export const COMPARE_SCHEME = 'amphora-compare';

type Side = VersionTarget;

/** Accepts a tree version row (`{ version }`), an ArtifactVersion or a VersionTarget. */
export function versionTargetOf(arg: unknown): Side | undefined {
  const a = arg as { version?: unknown } | undefined;
  const v = (a && typeof a.version === 'object' && a.version ? a.version : arg) as Partial<ArtifactVersion> | undefined;
  if (v && typeof v.entity === 'string' && typeof v.project === 'string' && typeof v.name === 'string' && typeof v.version === 'string') {
    return { entity: v.entity, project: v.project, name: v.name, version: v.version };
  }
  return undefined;
}

const label = (s: Side) => `${s.name}:${s.version}`;

function compareUri(left: Side, right: Side): vscode.Uri {
  const q = new URLSearchParams({ left: JSON.stringify(left), right: JSON.stringify(right) });
  return vscode.Uri.from({ scheme: COMPARE_SCHEME, path: `/${label(left)} ↔ ${label(right)}.diff`, query: q.toString() });
}

async function diffOf(services: ExtensionServices, left: Side, right: Side): Promise<ManifestDiff> {
  const c = await services.connection.require();
  const [a, b] = await Promise.all([
    c.http.manifest(left.entity, left.project, left.name, left.version),
    c.http.manifest(right.entity, right.project, right.name, right.version),
  ]);
  return diffManifests(a.entries, b.entries);
}

export async function compareVersions(services: ExtensionServices, leftArg?: unknown, rightArg?: unknown): Promise<ManifestDiff | undefined> {
  let left = versionTargetOf(leftArg);
  let right = versionTargetOf(rightArg);
  if (!left) {
    const picked = await pickVersion(services, 'Compare Versions');
    if (!picked) return undefined;
    left = versionTargetOf(picked)!;
  }
  if (!right) {
    const l = left;
    const picked = await pickVersion(services, `Compare ${label(l)} with`, { exclude: l.version, collection: { entity: l.entity, project: l.project, name: l.name } });
    if (!picked) return undefined;
    right = versionTargetOf(picked)!;
  }
  // Older on the left, as diffs read.
  const idx = (s: Side) => (/^v\d+$/.test(s.version) ? Number(s.version.slice(1)) : Number.MAX_SAFE_INTEGER);
  if (left.name === right.name && idx(left) > idx(right)) [left, right] = [right, left];
  const diff = await diffOf(services, left, right);
  const doc = await vscode.workspace.openTextDocument(compareUri(left, right));
  await vscode.window.showTextDocument(doc, { preview: true });
  const textChanges = diff.changes.filter((ch) => ch.status === 'changed' && isTextDiffable(ch.path, Math.max(ch.sizeBefore ?? 0, ch.sizeAfter ?? 0)));
  if (textChanges.length > 0) {
    const l = left;
    const r = right;
    void vscode.window
      .showQuickPick(textChanges.map((ch) => ({ label: ch.path, description: `${ch.sizeBefore} → ${ch.sizeAfter} bytes` })), {
        title: `${textChanges.length} changed text file${textChanges.length === 1 ? '' : 's'}: open in the diff editor`,
        placeHolder: 'Pick a file to see its changes (Esc to skip)',
      })
      .then((pick) => (pick ? openFileDiff(l, r, pick.label) : undefined));
  }
  return diff;
}

export async function openFileDiff(left: Side, right: Side, path: string): Promise<void> {
  const a = amphoraUri({ entity: left.entity, project: left.project, name: left.name, selector: left.version, path });
  const b = amphoraUri({ entity: right.entity, project: right.project, name: right.name, selector: right.version, path });
  await vscode.commands.executeCommand('vscode.diff', a, b, `${path} (${label(left)} ↔ ${label(right)})`, { preview: true });
}

export function registerCompare(context: vscode.ExtensionContext, services: ExtensionServices): void {
  const provider: vscode.TextDocumentContentProvider = {
    async provideTextDocumentContent(uri) {
      const q = new URLSearchParams(uri.query);
      const left = versionTargetOf(JSON.parse(q.get('left') ?? 'null'));
      const right = versionTargetOf(JSON.parse(q.get('right') ?? 'null'));
      if (!left || !right) return 'This comparison link is incomplete: run "Amphora: Compare Versions…" again.';
      try {
        const [diff, producers] = await Promise.all([
          diffOf(services, left, right),
          producerDeltaText(services, left, right).catch((e: Error) => `\n\nProducer runs: could not be compared (${e.message}).\n`),
        ]);
        return renderManifestDiff(diff, label(left), label(right)) + producers;
      } catch (e) {
        return `Could not compare ${label(left)} and ${label(right)}: ${(e as Error).message}`;
      }
    },
  };
  context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider(COMPARE_SCHEME, provider),
    vscode.commands.registerCommand('amphora.compareVersions', async (a?: unknown, b?: unknown) => {
      try {
        return await compareVersions(services, a, b);
      } catch (e) {
        void vscode.window.showErrorMessage(notificationText(`Compare Versions: ${(e as Error).message}`));
        return undefined;
      }
    }),
    vscode.commands.registerCommand('amphora.compare.openFileDiff', (left: unknown, right: unknown, path: string) => {
      const l = versionTargetOf(left);
      const r = versionTargetOf(right);
      if (l && r && typeof path === 'string') return openFileDiff(l, r, path);
      return undefined;
    }),
  );
}
