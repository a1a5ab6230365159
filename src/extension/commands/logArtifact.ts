/**
 * Explorer → "Log as Artifact…" on a file, a folder or a multi-selection: asks for project,
 * name, type, aliases and description, then hashes, uploads what the server lacks and commits,
 * with a cancellable progress notification.
 */
import * as vscode from 'vscode';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Artifact } from '../../client/artifact.js';
import { isAmphoraError } from '../../core/errors.js';
import { validateAlias, validateArtifactName, validateArtifactType, validateProject } from '../../core/names.js';
import { parseAliasList, suggestName } from '../logic/events.js';
import type { ExtensionServices } from '../services.js';
import { Cancelled, progressReporter } from './transfer.js';
import { pickOrType } from './quickInput.js';
import { notificationText } from '../logic/safeText.js';

const check = (fn: (v: string) => unknown) => (v: string) => {
  try {
    fn(v.trim());
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
};

export async function logArtifactCommand(services: ExtensionServices, uri?: vscode.Uri, uris?: vscode.Uri[]): Promise<void> {
  const selection = (uris && uris.length ? uris : uri ? [uri] : []).filter((u) => u.scheme === 'file');
  if (selection.length === 0) {
    const active = vscode.window.activeTextEditor?.document.uri;
    if (active?.scheme === 'file') selection.push(active);
  }
  if (selection.length === 0) {
    // From the palette with no file open: ask which files or folders to log.
    const picked = await vscode.window.showOpenDialog({
      title: 'Log as Artifact: files or folders',
      openLabel: 'Log as Artifact',
      canSelectFiles: true,
      canSelectFolders: true,
      canSelectMany: true,
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    });
    selection.push(...(picked ?? []).filter((u) => u.scheme === 'file'));
    if (selection.length === 0) return;
  }
  const c = await services.connection.require();
  const total = 5;

  const projects = (await c.http.projects()).items.map((p) => p.name);
  const setting = vscode.workspace.getConfiguration('amphora').get<string>('project')?.trim();
  const defaultProject = setting || (projects.length === 1 ? projects[0] : c.defaultProject);
  const project = await pickOrType({
    title: 'Log as Artifact: project',
    placeholder: 'Pick a project or type a new name',
    items: [...new Set([defaultProject, ...projects])].map((p) => ({ label: p, description: projects.includes(p) ? undefined : 'new project' })),
    value: defaultProject,
    validate: check(validateProject),
    step: 1,
    totalSteps: total,
  });
  if (!project) return;

  const first = selection[0].fsPath;
  const defaultName = suggestName(selection.length === 1 ? path.basename(first) : path.basename(path.dirname(first)));
  const name = await vscode.window.showInputBox({
    title: 'Log as Artifact: name',
    prompt: `Artifact name in ${project}`,
    value: defaultName,
    ignoreFocusOut: true,
    validateInput: check(validateArtifactName),
  });
  if (!name) return;

  // The type of an existing name is fixed; offer it first.
  let existingType: string | undefined;
  try {
    existingType = (await c.http.collection(c.entity, project, name.trim())).type;
  } catch (e) {
    if (!isAmphoraError(e) || e.code !== 'not_found') throw e;
  }
  let knownTypes: string[] = [];
  try {
    knownTypes = (await c.http.artifactTypes(c.entity, project)).items.map((t) => t.type);
  } catch {
    /* a new project has no types yet */
  }
  const type = await pickOrType({
    title: 'Log as Artifact: type',
    placeholder: existingType ? `${name} is a ${existingType}` : 'Pick a type or type a new one (dataset, model, …)',
    items: [...new Set([existingType, ...knownTypes, 'dataset', 'model'].filter((t): t is string => !!t))].map((t) => ({
      label: t,
      description: t === existingType ? `type of ${name}` : undefined,
    })),
    value: existingType ?? (knownTypes[0] || 'dataset'),
    validate: check(validateArtifactType),
    step: 3,
    totalSteps: total,
  });
  if (!type) return;

  const aliasText = await vscode.window.showInputBox({
    title: 'Log as Artifact: aliases (optional)',
    prompt: 'Extra aliases, separated by commas or spaces (latest is always set)',
    placeHolder: 'best, production',
    ignoreFocusOut: true,
    validateInput: (v) => {
      for (const a of parseAliasList(v)) {
        if (a === 'latest') continue;
        const problem = check(validateAlias)(a);
        if (problem) return problem;
      }
      return undefined;
    },
  });
  if (aliasText === undefined) return;
  const description = await vscode.window.showInputBox({
    title: 'Log as Artifact: description (optional)',
    prompt: 'What is in this version?',
    ignoreFocusOut: true,
  });
  if (description === undefined) return;

  const artifact = new Artifact(name.trim(), type.trim(), { description: description.trim() || undefined });
  for (const u of selection) {
    const st = await stat(u.fsPath);
    if (st.isDirectory()) {
      // One folder: its contents become the artifact; several: each under its own name.
      await artifact.addDir(u.fsPath, selection.length === 1 ? {} : { name: path.basename(u.fsPath) });
    } else {
      await artifact.addFile(u.fsPath, { name: path.basename(u.fsPath) });
    }
  }
  const label = `${project}/${artifact.collectionName}`;
  try {
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Logging ${label}`, cancellable: true },
      (progress, token) =>
        artifact.log({
          client: c.client,
          project,
          entity: c.entity,
          aliases: parseAliasList(aliasText).filter((a) => a !== 'latest'),
          onProgress: progressReporter(progress, token, 'uploaded'),
        }),
    );
  } catch (e) {
    if (e instanceof Cancelled) {
      void vscode.window.showInformationMessage(notificationText(`Logging ${label} was cancelled; no version was created.`));
      return;
    }
    throw e;
  }
  const ref = `${label}:${artifact.version}`;
  const pick = await vscode.window.showInformationMessage(notificationText(`Logged ${ref} (${artifact.fileCount} files).`), 'Reveal', 'Copy Reference');
  if (pick === 'Reveal') {
    await services.artifactsTree.revealVersion({ entity: artifact.entity!, project: artifact.project!, name: artifact.collectionName, version: artifact.version! });
  } else if (pick === 'Copy Reference') {
    await vscode.env.clipboard.writeText(ref);
  }
}
