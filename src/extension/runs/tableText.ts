/**
 * Reads a `.table.json` for the table viewer through VS Code's file systems (`amphora:` files of
 * artifact versions and runs, or workspace files), refusing one too large to show before reading
 * it. The viewer checks the text itself (core/runs/tableFile.ts).
 */
import * as vscode from 'vscode';
import { MAX_TABLE_FILE_BYTES } from '../../core/runs/tableFile.js';
import { formatBytes } from '../logic/format.js';

export interface TableText {
  size: number;
  text: string | null;
  /** Why there is no text (too large, unreadable, not UTF-8). */
  error: string | null;
}

export async function readTableText(uri: vscode.Uri): Promise<TableText> {
  const name = uri.path.slice(uri.path.lastIndexOf('/') + 1);
  let size = 0;
  try {
    size = (await vscode.workspace.fs.stat(uri)).size;
    if (size > MAX_TABLE_FILE_BYTES) {
      return { size, text: null, error: `${name} is ${formatBytes(size)}: the table viewer shows tables up to ${formatBytes(MAX_TABLE_FILE_BYTES)}. Open it as JSON, or download the version and read it with pandas.` };
    }
    const bytes = await vscode.workspace.fs.readFile(uri);
    return { size: bytes.byteLength, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), error: null };
  } catch (e) {
    const why = e instanceof TypeError ? 'it is not UTF-8 text' : (e as Error).message;
    return { size, text: null, error: `Could not read ${name}: ${why}.` };
  }
}
