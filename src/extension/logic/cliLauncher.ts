/**
 * The `amphora` command for the editor's terminals: the extension ships the CLI bundle
 * (`dist/cli.mjs`) but users of the .vsix have no `amphora` on their PATH and maybe no Node.
 * A small launcher script runs the bundle with the editor's own Node runtime
 * (ELECTRON_RUN_AS_NODE makes VS Code's executable behave as plain Node). No `vscode` here.
 */
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface LauncherOptions {
  /** Folder the launcher goes into (it is put first on the terminal's PATH). */
  binDir: string;
  /** The runtime: VS Code's `process.execPath`. */
  nodePath: string;
  /** The bundled CLI: `<extension>/dist/cli.mjs`. */
  cliPath: string;
  platform?: NodeJS.Platform;
}

/** `'…'` for a POSIX shell: nothing inside single quotes is special except the quote itself. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function posixLauncher(nodePath: string, cliPath: string): string {
  return [
    '#!/bin/sh',
    '# amphora: the CLI bundled with the Amphora extension, run by the editor\'s Node runtime.',
    `ELECTRON_RUN_AS_NODE=1 exec ${shellQuote(nodePath)} ${shellQuote(cliPath)} "$@"`,
    '',
  ].join('\n');
}

export function windowsLauncher(nodePath: string, cliPath: string): string {
  if (/["%]/.test(nodePath + cliPath)) throw new Error(`Cannot write a launcher for a path containing " or %: ${nodePath} ${cliPath}`);
  return ['@echo off', 'setlocal', 'set ELECTRON_RUN_AS_NODE=1', `"${nodePath}" "${cliPath}" %*`, ''].join('\r\n');
}

/** Writes (or rewrites: the extension's folder changes on every update) the launcher; returns its path. */
export async function writeCliLauncher(opts: LauncherOptions): Promise<string> {
  const windows = (opts.platform ?? process.platform) === 'win32';
  await mkdir(opts.binDir, { recursive: true });
  const file = path.join(opts.binDir, windows ? 'amphora.cmd' : 'amphora');
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, windows ? windowsLauncher(opts.nodePath, opts.cliPath) : posixLauncher(opts.nodePath, opts.cliPath), { mode: 0o755 });
  await chmod(tmp, 0o755);
  // A terminal starting `amphora` right now sees the old or the new script, never half of one.
  await rename(tmp, file);
  return file;
}

/** The terminal's environment: the launcher first on PATH, and the editor's server when it is a remote one. */
export function cliTerminalEnv(opts: {
  binDir: string;
  currentPath: string | undefined;
  connection?: { mode: string; baseUrl: string; apiKey?: string };
  delimiter?: string;
}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: [opts.binDir, opts.currentPath].filter(Boolean).join(opts.delimiter ?? path.delimiter),
  };
  // A local server is found through its discovery file, as in any terminal; a team server the
  // editor signed in to is named explicitly, so the CLI talks to the same one.
  if (opts.connection?.mode === 'remote') {
    env.AMPHORA_BASE_URL = opts.connection.baseUrl;
    if (opts.connection.apiKey) env.AMPHORA_API_KEY = opts.connection.apiKey;
  }
  return env;
}
