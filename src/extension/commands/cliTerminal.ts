/**
 * *Amphora: Open Terminal with CLI*: a terminal whose PATH starts with a launcher for the CLI
 * bundled in the extension, so `amphora serve`, `amphora artifact ls` … work without installing
 * anything (messages that name a CLI command point here).
 */
import * as vscode from 'vscode';
import path from 'node:path';
import { cliTerminalEnv, writeCliLauncher } from '../logic/cliLauncher.js';
import { notificationText } from '../logic/safeText.js';
import type { ExtensionServices } from '../services.js';

export const OPEN_CLI_TERMINAL = 'amphora.openCliTerminal';

export async function openCliTerminal(context: vscode.ExtensionContext, services: ExtensionServices): Promise<vscode.Terminal> {
  const binDir = path.join(context.globalStorageUri.fsPath, 'bin');
  await writeCliLauncher({ binDir, nodePath: process.execPath, cliPath: context.asAbsolutePath('dist/cli.mjs') });
  const c = services.connection.current;
  const env = cliTerminalEnv({
    binDir,
    currentPath: process.env.PATH,
    connection: c && { mode: c.mode, baseUrl: c.baseUrl, apiKey: c.mode === 'remote' ? await services.connection.remoteApiKey() : undefined },
  });
  const terminal = vscode.window.createTerminal({
    name: 'Amphora CLI',
    env,
    cwd: vscode.workspace.workspaceFolders?.[0]?.uri,
    message: `amphora is on this terminal's PATH (${c ? `server: ${c.baseUrl}` : 'not connected: "amphora serve" starts a local server'}). "amphora --help" lists the commands.`,
  });
  terminal.show();
  return terminal;
}

export function registerCliTerminal(context: vscode.ExtensionContext, services: ExtensionServices): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(OPEN_CLI_TERMINAL, async () => {
      try {
        return await openCliTerminal(context, services);
      } catch (e) {
        void vscode.window.showErrorMessage(notificationText(`Open Terminal with CLI: ${(e as Error).message}`));
        return undefined;
      }
    }),
  );
}
