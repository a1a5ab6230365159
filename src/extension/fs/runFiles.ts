/**
 * The saved files of runs as a read-only folder of the `amphora:` file system
 * (`amphora:/entity/project/~run/<runId>/…`): `wandb.save` files, logged media and the recorded
 * git diff open in an editor straight from the server. A run's file list is fetched once per
 * run and again after that run's events (a live run saves more files).
 */
import * as vscode from 'vscode';
import type { ExtensionServices } from '../services.js';
import { AMPHORA_SCHEME, isDirectory, listDirectory } from './amphoraUri.js';
import { formatRunFilePath, type RunFileLocation } from './runFileUri.js';

type FileList = Map<string, { digest: string; size: number }>;

export function runFileUri(l: RunFileLocation): vscode.Uri {
  return vscode.Uri.from({ scheme: AMPHORA_SCHEME, path: formatRunFilePath(l) });
}

export class RunFiles {
  private readonly lists = new Map<string, Promise<FileList>>();

  constructor(private readonly services: ExtensionServices) {}

  forget(entity: string, project: string, runId: string): void {
    this.lists.delete(`${entity}/${project}/${runId}`);
  }

  private list(l: RunFileLocation): Promise<FileList> {
    const key = `${l.entity}/${l.project}/${l.runId}`;
    let p = this.lists.get(key);
    if (!p) {
      p = (async () => {
        try {
          const c = await this.services.connection.require();
          const files = await c.http.runFiles(l.entity, l.project, l.runId);
          return new Map(files.items.map((f) => [f.path, { digest: f.digest, size: f.size }]));
        } catch (e) {
          this.lists.delete(key);
          throw vscode.FileSystemError.Unavailable(`run ${l.runId}: ${(e as Error).message}`);
        }
      })();
      this.lists.set(key, p);
    }
    return p;
  }

  async stat(uri: vscode.Uri, l: RunFileLocation): Promise<vscode.FileStat> {
    const files = await this.list(l);
    const f = l.path ? files.get(l.path) : undefined;
    if (f) return { type: vscode.FileType.File, size: f.size, ctime: 0, mtime: 0, permissions: vscode.FilePermission.Readonly };
    if (isDirectory(files.keys(), l.path)) return { type: vscode.FileType.Directory, size: 0, ctime: 0, mtime: 0, permissions: vscode.FilePermission.Readonly };
    throw vscode.FileSystemError.FileNotFound(uri);
  }

  async readDirectory(uri: vscode.Uri, l: RunFileLocation): Promise<[string, vscode.FileType][]> {
    const files = await this.list(l);
    if (!isDirectory(files.keys(), l.path)) throw vscode.FileSystemError.FileNotADirectory(uri);
    return listDirectory(files.keys(), l.path).map((c) => [c.name, c.kind === 'folder' ? vscode.FileType.Directory : vscode.FileType.File]);
  }

  async readFile(uri: vscode.Uri, l: RunFileLocation): Promise<Uint8Array> {
    const files = await this.list(l);
    const f = files.get(l.path);
    if (!f) throw isDirectory(files.keys(), l.path) ? vscode.FileSystemError.FileIsADirectory(uri) : vscode.FileSystemError.FileNotFound(uri);
    const c = await this.services.connection.require();
    const chunks: Buffer[] = [];
    for await (const chunk of await c.http.getBlobStream(f.digest)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
}
