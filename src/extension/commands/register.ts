/** Registers the extension's commands (tree actions, Explorer menu, lens actions). */
import * as vscode from 'vscode';
import { forbiddenReason, roleFor } from '../logic/access.js';
import type { ArtifactVersion } from '../../core/api.js';
import { parseReference, formatReference } from '../../core/reference.js';
import { validateAlias } from '../../core/names.js';
import { chooseProject, projectProblem } from '../logic/project.js';
import type { ExtensionServices, VersionTarget } from '../services.js';
import { VersionNode } from '../views/nodes.js';
import { logArtifactCommand } from './logArtifact.js';
import { metadataUri, MetadataFileSystem, METADATA_SCHEME } from './metadataDocuments.js';
import { pickOrType, reportErrors } from './quickInput.js';
import { pickVersion } from './pickVersion.js';
import { workspaceRoot } from './transfer.js';
import { notificationText } from '../logic/safeText.js';
import { OPEN_SELECTED_FILE } from '../views/nodes.js';

/**
 * Version commands accept a tree node, a version, or a `{entity, project, name, version}` target;
 * from the palette (no argument) they ask for one: project → artifact → version.
 */
async function versionOf(services: ExtensionServices, arg: unknown, title: string): Promise<ArtifactVersion | undefined> {
  if (arg === undefined) return pickVersion(services, title);
  const c = await services.connection.require();
  const t = (arg instanceof VersionNode ? arg.version : arg) as Partial<VersionTarget> | undefined;
  if (!t?.entity || !t.project || !t.name || !t.version) throw new Error('Run this command on a version row in the Amphora view, or from the Command Palette to pick a version.');
  return c.http.version(t.entity, t.project, t.name, t.version);
}

/** A lens hands over the version it already resolved; older callers pass the reference text. */
async function targetOf(services: ExtensionServices, arg: unknown, title: string): Promise<VersionTarget | undefined> {
  if (typeof arg === 'string') return targetFromReference(services, arg);
  const v = await versionOf(services, arg, title);
  return v && { entity: v.entity, project: v.project, name: v.name, version: v.version };
}

/** A typed or picked reference → a full target, using the same project rules as the editor. */
async function targetFromReference(services: ExtensionServices, text: string): Promise<VersionTarget> {
  const c = await services.connection.require();
  const ref = parseReference(text);
  const projects = ref.project ? [] : (await c.http.projects()).items.map((p) => p.name);
  const choice = chooseProject({
    fromReference: ref.project,
    fromSetting: vscode.workspace.getConfiguration('amphora').get<string>('project'),
    projects,
  });
  if (choice.kind !== 'project') throw new Error(projectProblem(choice, text));
  const v = await c.http.resolve(formatReference({ entity: ref.entity ?? c.entity, project: choice.project, name: ref.name, selector: ref.selector }));
  return { entity: v.entity, project: v.project, name: v.name, version: v.version };
}

export function registerCommands(context: vscode.ExtensionContext, services: ExtensionServices): void {
  const { connection } = services;
  const reg = (id: string, fn: (...args: any[]) => unknown, what: string) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, (...args: unknown[]) => reportErrors(what, async () => fn(...args))));

  context.subscriptions.push(
    vscode.workspace.registerFileSystemProvider(METADATA_SCHEME, new MetadataFileSystem(connection), { isCaseSensitive: true }),
  );

  reg('amphora.refresh', () => {
    services.artifactsTree.refresh();
    services.runsTree.refresh();
    services.collections.clear();
    services.resolver.clear();
  }, 'Refresh');
  reg('amphora.reconnect', () => connection.connect(), 'Reconnect');
  reg('amphora.signIn', () => connection.signIn(), 'Sign in');
  reg('amphora.signOut', () => connection.signOut(), 'Sign out');
  reg('amphora.showOutput', () => services.output.show(true), 'Show log');
  reg('amphora.loadMore', async (row?: unknown) => {
    const loaded = await Promise.all([services.artifactsTree.loadMore(row), services.runsTree.loadMore(row)]);
    // The clicked row was replaced by a reload that arrived with the click: the list is fresh now.
    if (!loaded.some(Boolean)) void vscode.window.showInformationMessage('Load more: the list was reloading as you clicked and is up to date now. Click "Load more…" again if it still shows one.');
  }, 'Load more');

  // File rows' click: the file selected in that row's own view (see OPEN_SELECTED_FILE).
  reg(OPEN_SELECTED_FILE.artifacts, () => vscode.commands.executeCommand('amphora.openVersionFile', services.artifactsTree.selectedFile()), 'Open File');
  reg(OPEN_SELECTED_FILE.runs, () => vscode.commands.executeCommand('amphora.openVersionFile', services.runsTree.selectedFile()), 'Open File');

  reg('amphora.logArtifact', (uri?: vscode.Uri, uris?: vscode.Uri[]) => logArtifactCommand(services, uri, uris), 'Log as Artifact');

  reg('amphora.useArtifact', async (refArg?: string) => {
    const c = await connection.require();
    let text = typeof refArg === 'string' ? refArg : undefined;
    if (!text) {
      const items: { label: string; description?: string }[] = [];
      for (const p of (await c.http.projects()).items.slice(0, 50)) {
        const cols = await c.http.collections(p.entity, p.name, { limit: 200 });
        for (const col of cols.items) items.push({ label: `${p.name}/${col.name}:latest`, description: `${col.type} · ${col.versionCount} versions` });
      }
      text = await pickOrType({
        title: 'Use Artifact',
        placeholder: 'Pick an artifact or type a reference (name:alias, name:vN, project/name:alias)',
        items,
        validate: (v) => {
          try {
            parseReference(v);
            return undefined;
          } catch (e) {
            return (e as Error).message;
          }
        },
      });
    }
    if (!text) return;
    const target = await targetFromReference(services, text.trim());
    if (!workspaceRoot()) throw new Error('Open a folder first: Use Artifact downloads into the workspace.');
    await services.downloadVersion(target);
  }, 'Use Artifact');

  reg('amphora.revealReference', async (arg: unknown) => {
    const t = await targetOf(services, arg, 'Reveal Artifact');
    if (!t) return;
    await vscode.commands.executeCommand('amphora.artifacts.focus');
    if (!(await services.artifactsTree.revealVersion(t))) throw new Error(`${t.project}/${t.name}:${t.version} is not in the Artifacts view.`);
  }, 'Reveal');
  reg('amphora.downloadReference', async (arg: unknown) => {
    const t = await targetOf(services, arg, 'Download Artifact');
    if (t) await services.downloadVersion(t);
  }, 'Download');

  reg('amphora.version.copyReference', async (arg: unknown) => {
    const v = await versionOf(services, arg, 'Copy Reference');
    if (!v) return;
    const ref = `${v.project}/${v.name}:${v.version}`;
    await vscode.env.clipboard.writeText(ref);
    void vscode.window.setStatusBarMessage(`Copied ${ref}`, 3_000);
  }, 'Copy reference');
  reg('amphora.version.download', async (arg: unknown) => {
    const v = await versionOf(services, arg, 'Download');
    if (!v) return;
    await services.downloadVersion(v);
  }, 'Download');
  reg('amphora.version.addAlias', async (arg: unknown) => {
    const v = await versionOf(services, arg, 'Add Alias');
    if (!v) return;
    const alias = await vscode.window.showInputBox({
      title: `Add alias to ${v.name}:${v.version}`,
      prompt: 'An alias moves here from any other version of this artifact',
      placeHolder: 'best',
      validateInput: (s) => {
        try {
          validateAlias(s.trim());
          return s.trim() === 'latest' ? '"latest" is managed by the server: it always names the newest version.' : undefined;
        } catch (e) {
          return (e as Error).message;
        }
      },
    });
    if (!alias) return;
    const c = await connection.require();
    await c.http.updateVersion(v.entity, v.project, v.name, v.version, { aliases: { add: [alias.trim()] } });
  }, 'Add alias');
  reg('amphora.version.removeAlias', async (arg: unknown) => {
    const v = await versionOf(services, arg, 'Remove Alias');
    if (!v) return;
    const custom = v.aliases.filter((a) => a !== 'latest');
    if (custom.length === 0) {
      void vscode.window.showInformationMessage(notificationText(`${v.name}:${v.version} has no aliases to remove ("latest" is managed by the server).`));
      return;
    }
    const picked = await vscode.window.showQuickPick(custom, { title: `Remove alias from ${v.name}:${v.version}`, canPickMany: true });
    if (!picked?.length) return;
    const c = await connection.require();
    await c.http.updateVersion(v.entity, v.project, v.name, v.version, { aliases: { remove: picked } });
  }, 'Remove alias');
  reg('amphora.version.editDescription', async (arg: unknown) => {
    const v = await versionOf(services, arg, 'Edit Description');
    if (!v) return;
    const text = await vscode.window.showInputBox({ title: `Description of ${v.name}:${v.version}`, value: v.description ?? '', ignoreFocusOut: true });
    if (text === undefined) return;
    const c = await connection.require();
    await c.http.updateVersion(v.entity, v.project, v.name, v.version, { description: text.trim() || null });
  }, 'Edit description');
  reg('amphora.version.editMetadata', async (arg: unknown) => {
    const v = await versionOf(services, arg, 'Edit Metadata');
    if (!v) return;
    const doc = await vscode.workspace.openTextDocument(metadataUri(v));
    await vscode.languages.setTextDocumentLanguage(doc, 'json');
    await vscode.window.showTextDocument(doc, { preview: false });
  }, 'Edit metadata');
  reg('amphora.version.delete', async (arg: unknown) => {
    const v = await versionOf(services, arg, 'Delete Version');
    if (!v) return;
    const label = `${v.project}/${v.name}:${v.version}`;
    // Menus hide Delete from other roles; a keybinding or an old tree item still gets told why.
    const refused = forbiddenReason(roleFor(connection.current?.viewer, v.entity, v.project), 'admin', 'Deleting a version', `${v.entity}/${v.project}`);
    if (refused) {
      void vscode.window.showWarningMessage(notificationText(refused));
      return;
    }
    const ok = await vscode.window.showWarningMessage(notificationText(`Delete ${label}?`), { modal: true, detail: 'The version disappears from every list; its number is never reused.' }, 'Delete');
    if (ok !== 'Delete') return;
    let deleteAliases = false;
    if (v.aliases.length) {
      const again = await vscode.window.showWarningMessage(
        notificationText(`${label} has aliases: ${v.aliases.join(', ')}.`),
        { modal: true, detail: 'Code that uses these aliases will stop resolving (or resolve elsewhere). Delete the version and its aliases?' },
        'Delete With Aliases',
      );
      if (again !== 'Delete With Aliases') return;
      deleteAliases = true;
    }
    const c = await connection.require();
    await c.http.deleteVersion(v.entity, v.project, v.name, v.version, deleteAliases);
  }, 'Delete version');
  reg('amphora.version.revealProducerRun', async (arg: unknown) => {
    const v = await versionOf(services, arg, 'Reveal Producer Run');
    if (!v) return;
    if (!v.producerRun) {
      void vscode.window.showInformationMessage(notificationText(`${v.name}:${v.version} was logged without a run.`));
      return;
    }
    await vscode.commands.executeCommand('amphora.runs.focus');
    if (!(await services.runsTree.revealRun(v.entity, v.project, v.producerRun.id))) throw new Error(`Run ${v.producerRun.name} is not in the Runs view.`);
  }, 'Reveal producer run');
}
