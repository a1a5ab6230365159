/**
 * The extension's shared services: what every feature needs, created once by the composition
 * root (extension.ts) and handed to each feature registrar (see features.ts). Features keep no
 * global state of their own; they ask these.
 */
import type * as vscode from 'vscode';
import type { ArtifactVersion, Run } from '../core/api.js';
import type { ConnectionManager, Connected } from './connection/connectionManager.js';
import type { EventBus } from './connection/eventBus.js';
import type { ReferenceResolver } from './logic/resolver.js';
import type { CollectionIndex } from './logic/collectionIndex.js';

/** Where a version lives; enough to reveal or fetch it. */
export interface VersionTarget {
  entity: string;
  project: string;
  name: string;
  /** `vN` (preferred) or an alias. */
  version: string;
}

/** What the commands ask of either tree. */
interface TreeApi {
  refresh(): void;
  /** Loads the next page of the "Load more…" row given or selected; false when there was none to load. */
  loadMore(row?: unknown): Promise<boolean>;
  /** The file row selected in the view, if any. */
  selectedFile(): unknown;
}

export interface ArtifactsTreeApi extends TreeApi {
  /** Reveals (expanding parents, loading pages as needed) and selects a version row. */
  revealVersion(target: VersionTarget, opts?: { select?: boolean; focus?: boolean; expand?: boolean }): Promise<boolean>;
}

export interface RunsTreeApi extends TreeApi {
  revealRun(entity: string, project: string, runId: string, opts?: { select?: boolean; focus?: boolean }): Promise<boolean>;
}

export interface ExtensionServices {
  readonly context: vscode.ExtensionContext;
  /** The "Amphora" output channel (server log, connection messages). */
  readonly output: vscode.OutputChannel;
  /** State, events (`onDidChangeState`) and `require()` → the connected AmphoraHttp client. */
  readonly connection: ConnectionManager;
  /** The server's event stream (`onEvent`, `onDidResync`). */
  readonly events: EventBus;
  /** Resolves reference strings in source files (cached, invalidated by events). */
  readonly resolver: ReferenceResolver;
  /** Each project's artifacts with aliases (completion, diagnostics, missing-reference hints); invalidated by events. */
  readonly collections: CollectionIndex;
  readonly artifactsTree: ArtifactsTreeApi;
  readonly runsTree: RunsTreeApi;
  /** Downloads a version into a folder of the workspace and reveals it; returns the folder. */
  downloadVersion(target: VersionTarget, folder?: vscode.Uri): Promise<vscode.Uri | undefined>;
}

export type FeatureRegistrar = (context: vscode.ExtensionContext, services: ExtensionServices) => void | Promise<void>;

export type { ArtifactVersion, Run, Connected };

/** `entity/project/name:vN` for a version. */
export function fullReference(v: Pick<ArtifactVersion, 'entity' | 'project' | 'name' | 'version'>): string {
  return `${v.entity}/${v.project}/${v.name}:${v.version}`;
}

/** The JSON-safe target a command takes for a version it was handed already resolved. */
export function versionTarget(v: Pick<ArtifactVersion, 'entity' | 'project' | 'name' | 'version'>): VersionTarget {
  return { entity: v.entity, project: v.project, name: v.name, version: v.version };
}
