/** Status-bar item: where the extension is connected, or why it is not. */
import { codeSpan, escapeMarkdownInline } from '../logic/safeText.js';
import * as vscode from 'vscode';
import type { ConnectionManager } from '../connection/connectionManager.js';
import { describeRoles, statusText } from '../logic/access.js';

export function registerStatusBar(context: vscode.ExtensionContext, connection: ConnectionManager): void {
  const item = vscode.window.createStatusBarItem('amphora.status', vscode.StatusBarAlignment.Left, 10);
  item.name = 'Amphora';
  const update = () => {
    const c = connection.current;
    switch (connection.state) {
      case 'connecting':
        item.text = '$(sync~spin) Amphora';
        item.tooltip = 'Amphora: connecting…';
        item.command = 'amphora.showOutput';
        item.backgroundColor = undefined;
        break;
      case 'connected': {
        const where = c!.mode === 'remote' ? c!.baseUrl : `local (${c!.baseUrl.replace(/^https?:\/\//, '')})`;
        const user = c!.viewer?.user ?? c!.entity;
        item.text = `$(database) ${statusText(c!.mode, c!.baseUrl, c!.viewer)}`;
        item.tooltip = new vscode.MarkdownString(
          `Amphora: connected to ${escapeMarkdownInline(where)} as ${codeSpan(user)}${c!.mode === 'started' ? ' (bundled server started by VS Code)' : ''}.` +
            (c!.viewer ? `\n\nRoles: ${escapeMarkdownInline(describeRoles(c!.viewer))}.` : '') +
            '\n\nClick to show the server log.',
        );
        item.command = 'amphora.showOutput';
        item.backgroundColor = undefined;
        break;
      }
      default:
        item.text = '$(debug-disconnect) Amphora: disconnected';
        item.tooltip = `Amphora: ${connection.lastError ?? 'not connected'}\n\nClick to reconnect.`;
        item.command = 'amphora.reconnect';
        item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    }
    item.show();
  };
  update();
  context.subscriptions.push(item, connection.onDidChangeState(update));
}
