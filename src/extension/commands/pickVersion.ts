/**
 * The palette's way to a target when a command gets no argument: project → artifact → version,
 * as quick picks. The project follows the same rules as the lenses (the active file's
 * `init(project=…)`, the `amphora.project` setting, the only project on the server) and is asked
 * only when those leave it open.
 */
import * as vscode from 'vscode';
import type { ArtifactCollection, ArtifactVersion } from '../../core/api.js';
import type { Connected } from '../connection/connectionManager.js';
import { isAmphoraError } from '../../core/errors.js';
import { chooseProject, projectFromSource } from '../logic/project.js';
import { notificationText } from '../logic/safeText.js';
import { formatBytes, plural } from '../logic/format.js';
import type { ExtensionServices } from '../services.js';
import { projectSourceOf } from '../language/documents.js';

/** The server caps one page at 1000 rows; a quick pick of more would not help anyone. */
const PICK_LIMIT = 1000;

export interface ProjectTarget {
  entity: string;
  project: string;
}

export interface CollectionTarget extends ProjectTarget {
  name: string;
}

/** The source text whose `init(project=…)` decides the project: the active editor's file (or notebook). */
function activeSource(): string {
  const doc = vscode.window.activeTextEditor?.document;
  return doc ? projectSourceOf(doc) : '';
}

/** Picks a project (or takes the one the lens rules name); undefined when dismissed or none exist. */
export async function pickProject(services: ExtensionServices, title: string): Promise<ProjectTarget | undefined> {
  const c = await services.connection.require();
  const projects = (await c.http.projects()).items;
  const choice = chooseProject({
    fromFile: projectFromSource(activeSource()),
    fromSetting: vscode.workspace.getConfiguration('amphora').get<string>('project'),
    projects: [...new Set(projects.map((p) => p.name))],
  });
  if (choice.kind === 'project') {
    return { entity: projects.find((p) => p.name === choice.project)?.entity ?? c.entity, project: choice.project };
  }
  if (choice.kind === 'none') {
    void vscode.window.showInformationMessage('No Amphora projects yet: right-click a file or folder in the Explorer and choose Log as Artifact…, or log one from a script.');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    projects.map((p) => ({ label: p.name, description: p.entity === c.entity ? undefined : p.entity, p })),
    { title: `${title}: project`, placeHolder: 'Project (set amphora.project or add init(project=…) to skip this step)', ignoreFocusOut: true },
  );
  return picked ? { entity: picked.p.entity, project: picked.p.name } : undefined;
}

async function collectionsOf(c: Connected, t: ProjectTarget): Promise<ArtifactCollection[]> {
  try {
    return (await c.http.collections(t.entity, t.project, { limit: PICK_LIMIT })).items;
  } catch (e) {
    // The file or the setting may name a project nothing was logged to yet: it has no artifacts.
    if (isAmphoraError(e) && e.code === 'not_found') return [];
    throw e;
  }
}

/** Picks an artifact of a project (asking for the project first when needed). */
export async function pickCollection(services: ExtensionServices, title: string, project?: ProjectTarget): Promise<CollectionTarget | undefined> {
  const picked = await pickCollectionOrProject(services, title, project, undefined);
  return picked && 'name' in picked ? picked : undefined;
}

/**
 * Like pickCollection, with a first item that stands for the whole project (`wholeProjectLabel`),
 * which resolves to the project itself.
 */
export async function pickCollectionOrProject(
  services: ExtensionServices,
  title: string,
  project: ProjectTarget | undefined,
  wholeProjectLabel: string | undefined,
): Promise<CollectionTarget | ProjectTarget | undefined> {
  const p = project ?? (await pickProject(services, title));
  if (!p) return undefined;
  const c = await services.connection.require();
  const cols = await collectionsOf(c, p);
  if (cols.length === 0) {
    void vscode.window.showInformationMessage(notificationText(`${p.project} has no artifacts yet.`));
    return undefined;
  }
  const whole = wholeProjectLabel ? [{ label: wholeProjectLabel, description: p.project, col: undefined }] : [];
  const picked = await vscode.window.showQuickPick(
    [...whole, ...cols.map((col) => ({ label: col.name, description: `${col.type} · ${plural(col.versionCount, 'version')}`, detail: col.description ?? undefined, col }))],
    { title: `${title}: artifact in ${p.project}`, placeHolder: cols.length >= PICK_LIMIT ? `Artifact (the first ${PICK_LIMIT} by name)` : 'Artifact', matchOnDescription: true, ignoreFocusOut: true },
  );
  if (!picked) return undefined;
  return picked.col ? { ...p, name: picked.col.name } : p;
}

export interface PickVersionOptions {
  /** A version not to offer (the other side of a comparison). */
  exclude?: string;
  /** Skip the artifact step: pick among this artifact's versions. */
  collection?: CollectionTarget;
}

/** Picks project → artifact → version; resolves to the full version, undefined when dismissed. */
export async function pickVersion(services: ExtensionServices, title: string, opts: PickVersionOptions = {}): Promise<ArtifactVersion | undefined> {
  const col = opts.collection ?? (await pickCollection(services, title));
  if (!col) return undefined;
  const c = await services.connection.require();
  const versions = (await c.http.versions(col.entity, col.project, col.name, { limit: PICK_LIMIT })).items.filter((v) => v.version !== opts.exclude);
  if (versions.length === 0) {
    void vscode.window.showInformationMessage(notificationText(opts.exclude ? `${col.name} has no other version.` : `${col.name} has no versions.`));
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    versions.map((v) => ({
      label: v.version,
      description: v.aliases.join(', '),
      detail: `${plural(v.fileCount, 'file')} · ${formatBytes(v.size)} · ${v.createdAt}${v.description ? ` · ${v.description}` : ''}`,
      v,
    })),
    { title: `${title}: version of ${col.project}/${col.name}`, placeHolder: 'Version (newest first)', matchOnDescription: true, ignoreFocusOut: true },
  );
  return picked?.v;
}
