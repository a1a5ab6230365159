/**
 * "Edit Metadata": a version's metadata opens as a JSON document
 * (`amphora-metadata:/entity/project/name/vN.metadata.json`); saving it replaces the metadata on
 * the server. Invalid JSON or a non-object is refused with a message and nothing changes.
 */
import * as vscode from 'vscode';
import type { ConnectionManager } from '../connection/connectionManager.js';
import type { VersionTarget } from '../services.js';

export const METADATA_SCHEME = 'amphora-metadata';

export function metadataUri(t: VersionTarget): vscode.Uri {
  const seg = (s: string) => encodeURIComponent(s);
  return vscode.Uri.from({ scheme: METADATA_SCHEME, path: `/${seg(t.entity)}/${seg(t.project)}/${seg(t.name)}/${seg(t.version)}.metadata.json` });
}

function targetOf(uri: vscode.Uri): VersionTarget {
  const parts = uri.path.split('/').slice(1).map(decodeURIComponent);
  if (parts.length !== 4 || !parts[3].endsWith('.metadata.json')) throw vscode.FileSystemError.FileNotFound(uri);
  return { entity: parts[0], project: parts[1], name: parts[2], version: parts[3].slice(0, -'.metadata.json'.length) };
}

export class MetadataFileSystem implements vscode.FileSystemProvider {
  private readonly emitter = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.emitter.event;
  constructor(private readonly connection: ConnectionManager) {}

  watch(): vscode.Disposable {
    return new vscode.Disposable(() => undefined);
  }
  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const bytes = await this.readFile(uri);
    return { type: vscode.FileType.File, ctime: 0, mtime: Date.now(), size: bytes.byteLength };
  }
  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    const t = targetOf(uri);
    const c = await this.connection.require();
    const v = await c.http.version(t.entity, t.project, t.name, t.version);
    return Buffer.from(JSON.stringify(v.metadata, null, 2) + '\n');
  }
  async writeFile(uri: vscode.Uri, content: Uint8Array): Promise<void> {
    const t = targetOf(uri);
    let metadata: unknown;
    try {
      metadata = JSON.parse(Buffer.from(content).toString('utf8'));
    } catch (e) {
      throw vscode.FileSystemError.NoPermissions(`Not saved: the metadata is not valid JSON (${(e as Error).message}). Fix it and save again.`);
    }
    if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw vscode.FileSystemError.NoPermissions('Not saved: metadata must be a JSON object ({ "key": value, … }).');
    }
    const c = await this.connection.require();
    await c.http.updateVersion(t.entity, t.project, t.name, t.version, { metadata: metadata as Record<string, unknown> });
    this.emitter.fire([{ type: vscode.FileChangeType.Changed, uri }]);
  }
  readDirectory(): [string, vscode.FileType][] {
    return [];
  }
  createDirectory(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }
  delete(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }
  rename(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }
}
