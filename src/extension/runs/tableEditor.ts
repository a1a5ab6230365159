/**
 * The table viewer as VS Code's editor for `*.table.json` (W&B table files: an artifact version's
 * files through `amphora:`, run files, workspace files). It shows the run webview's table page;
 * *Open as JSON* (or *Reopen Editor With…*) gives the text editor. Read-only: nothing is saved.
 */
import * as vscode from 'vscode';
import { parseRunViewMessage, type ExtensionToRunView, type RunViewToExtension } from '../../core/runViewMessages.js';
import type { ExtensionServices } from '../services.js';
import { dispatchWebviewMessage } from '../webviewDispatch.js';
import { showWebviewPage } from '../webviewPanel.js';
import { runHtml } from './runHtml.js';
import { readTableText } from './tableText.js';

export const TABLE_EDITOR_VIEW_TYPE = 'amphora.tableViewer';

export class TableEditorProvider implements vscode.CustomReadonlyEditorProvider {
  constructor(private readonly services: ExtensionServices) {}

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): void {
    const root = this.services.context.extensionUri;
    const uri = document.uri;
    const name = uri.path.slice(uri.path.lastIndexOf('/') + 1);
    showWebviewPage(panel, root, 'run', runHtml, name);
    const post = (m: ExtensionToRunView) => void panel.webview.postMessage(m);
    const send = async () => {
      const t = await readTableText(uri);
      post({ type: 'tableDocument', title: name, path: uri.scheme === 'file' ? vscode.workspace.asRelativePath(uri) : uri.path, size: t.size, text: t.text, error: t.error });
    };
    const handle = async (m: RunViewToExtension) => {
      if (m.type === 'ready' || m.type === 'refresh') await send();
      else if (m.type === 'openAsJson') await vscode.commands.executeCommand('vscode.openWith', uri, 'default');
      else if (m.type === 'error') this.services.output.appendLine(`[table viewer] ${m.message}`);
    };
    const sub = panel.webview.onDidReceiveMessage((raw) =>
      dispatchWebviewMessage(raw, {
        tag: 'table viewer',
        parse: parseRunViewMessage,
        handle,
        log: (line) => this.services.output.appendLine(line),
        reportError: (message) => post({ type: 'error', message }),
      }),
    );
    panel.onDidDispose(() => sub.dispose());
  }
}

export function registerTableEditor(context: vscode.ExtensionContext, services: ExtensionServices): void {
  context.subscriptions.push(
    vscode.window.registerCustomEditorProvider(TABLE_EDITOR_VIEW_TYPE, new TableEditorProvider(services), { supportsMultipleEditorsPerDocument: true }),
  );
}
