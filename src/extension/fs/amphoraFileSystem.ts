/**
 * Read-only `amphora:` file system: any file of any version opens in the editor straight from
 * the server, without downloading the version into the workspace. Versions are immutable, so
 * manifests fetched by version number are cached for good; alias paths (`name:latest`) are
 * looked up again after any alias or version event.
 */
import * as vscode from 'vscode';
import type { ManifestResponse } from '../../core/api.js';
import { isAmphoraError } from '../../core/errors.js';
import { isVersionString } from '../../core/names.js';
import type { ExtensionServices } from '../services.js';
import { AMPHORA_SCHEME, formatAmphoraPath, isDirectory, listDirectory, parseAmphoraPath, type AmphoraLocation } from './amphoraUri.js';
import { parseRunFilePath } from './runFileUri.js';
import { RunFiles } from './runFiles.js';

const SHA256 = /^[0-9a-f]{64}$/;

export function amphoraUri(l: AmphoraLocation): vscode.Uri {
  return vscode.Uri.from({ scheme: AMPHORA_SCHEME, path: formatAmphoraPath(l) });
}

export class AmphoraFileSystem implements vscode.FileSystemProvider {
  private readonly changed = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.changed.event;
  private readonly manifests = new Map<string, Promise<ManifestResponse>>();
  private readonly createdAt = new Map<string, number>();
  /** Saved run files (`/entity/project/~run/<id>/…`) share this read-only scheme. */
  readonly runFiles: RunFiles;

  constructor(private readonly services: ExtensionServices) {
    this.runFiles = new RunFiles(services);
  }

  /** Alias paths may now point elsewhere. */
  forgetAliases(): void {
    for (const k of [...this.manifests.keys()]) if (!isVersionString(k.slice(k.lastIndexOf(':') + 1))) this.manifests.delete(k);
  }

  private location(uri: vscode.Uri): AmphoraLocation {
    try {
      return parseAmphoraPath(uri.path);
    } catch (e) {
      throw vscode.FileSystemError.FileNotFound(`${(e as Error).message}`);
    }
  }

  private manifest(l: AmphoraLocation): Promise<ManifestResponse> {
    const key = `${l.entity}/${l.project}/${l.name}:${l.selector}`;
    let m = this.manifests.get(key);
    if (!m) {
      m = (async () => {
        const c = await this.services.connection.require();
        try {
          const [manifest, version] = await Promise.all([c.http.manifest(l.entity, l.project, l.name, l.selector), c.http.version(l.entity, l.project, l.name, l.selector)]);
          this.createdAt.set(key, Date.parse(version.createdAt) || 0);
          return manifest;
        } catch (e) {
          this.manifests.delete(key);
          if (isAmphoraError(e) && e.code === 'not_found') throw vscode.FileSystemError.FileNotFound(`${key}: ${e.message}`);
          throw vscode.FileSystemError.Unavailable(`${key}: ${(e as Error).message}`);
        }
      })();
      this.manifests.set(key, m);
    }
    return m;
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const run = parseRunFilePath(uri.path);
    if (run) return this.runFiles.stat(uri, run);
    const l = this.location(uri);
    const m = await this.manifest(l);
    const time = this.createdAt.get(`${l.entity}/${l.project}/${l.name}:${l.selector}`) ?? 0;
    const entry = l.path ? m.entries[l.path] : undefined;
    if (entry) return { type: vscode.FileType.File, size: entry.size, ctime: time, mtime: time, permissions: vscode.FilePermission.Readonly };
    if (isDirectory(Object.keys(m.entries), l.path)) return { type: vscode.FileType.Directory, size: 0, ctime: time, mtime: time, permissions: vscode.FilePermission.Readonly };
    throw vscode.FileSystemError.FileNotFound(uri);
  }

  async readDirectory(uri: vscode.Uri): Promise<[string, vscode.FileType][]> {
    const run = parseRunFilePath(uri.path);
    if (run) return this.runFiles.readDirectory(uri, run);
    const l = this.location(uri);
    const m = await this.manifest(l);
    if (!isDirectory(Object.keys(m.entries), l.path)) throw vscode.FileSystemError.FileNotADirectory(uri);
    return listDirectory(Object.keys(m.entries), l.path).map((c) => [c.name, c.kind === 'folder' ? vscode.FileType.Directory : vscode.FileType.File]);
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    const run = parseRunFilePath(uri.path);
    if (run) return this.runFiles.readFile(uri, run);
    const l = this.location(uri);
    const m = await this.manifest(l);
    const entry = m.entries[l.path];
    if (!entry) throw isDirectory(Object.keys(m.entries), l.path) ? vscode.FileSystemError.FileIsADirectory(uri) : vscode.FileSystemError.FileNotFound(uri);
    if (entry.ref && !SHA256.test(entry.digest)) {
      throw vscode.FileSystemError.Unavailable(`${l.path} is a reference to ${entry.ref}; its bytes are not stored in Amphora.`);
    }
    const c = await this.services.connection.require();
    const chunks: Buffer[] = [];
    for await (const chunk of await c.http.getBlobStream(entry.digest)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  watch(): vscode.Disposable {
    // Versions never change; nothing to watch.
    return new vscode.Disposable(() => undefined);
  }

  private readonly readonlyError = () => vscode.FileSystemError.NoPermissions('Amphora versions are read-only: log a new version instead (Explorer → Log as Artifact…).');
  createDirectory(): void {
    throw this.readonlyError();
  }
  writeFile(): void {
    throw this.readonlyError();
  }
  delete(): void {
    throw this.readonlyError();
  }
  rename(): void {
    throw this.readonlyError();
  }
}

/** Tree file rows and other callers hand over `{ file: { path }, version }` or a location. */
function locationFromArg(arg: unknown): AmphoraLocation | undefined {
  const a = arg as { file?: { path?: string }; version?: { entity: string; project: string; name: string; version: string } } | undefined;
  if (a?.file?.path && a.version) return { entity: a.version.entity, project: a.version.project, name: a.version.name, selector: a.version.version, path: a.file.path };
  const l = arg as Partial<AmphoraLocation> | undefined;
  if (l?.entity && l.project && l.name && l.selector && typeof l.path === 'string') return l as AmphoraLocation;
  return undefined;
}

export function registerAmphoraFileSystem(context: vscode.ExtensionContext, services: ExtensionServices): void {
  const fs = new AmphoraFileSystem(services);
  context.subscriptions.push(
    vscode.workspace.registerFileSystemProvider(AMPHORA_SCHEME, fs, { isCaseSensitive: true, isReadonly: true }),
    services.events.onEvent((e) => {
      if (e.type === 'alias.moved' || e.type.startsWith('version.')) fs.forgetAliases();
    }),
    services.events.onDidResync(() => fs.forgetAliases()),
    services.events.onEvent((e) => {
      if (e.type === 'run.logged') fs.runFiles.forget(e.entity, e.project, e.runId);
      else if (e.type === 'run.updated') fs.runFiles.forget(e.run.entity, e.run.project, e.run.id);
    }),
    vscode.commands.registerCommand('amphora.openVersionFile', async (arg?: unknown) => {
      const l = locationFromArg(arg);
      if (!l) {
        void vscode.window.showErrorMessage('Open File: choose a file row under a version in the Amphora Artifacts view.');
        return;
      }
      await vscode.commands.executeCommand('vscode.open', amphoraUri(l), { preview: true });
    }),
  );
}
