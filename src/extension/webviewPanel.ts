import * as vscode from 'vscode';
import { webviewFiles, type WebviewHtmlOptions } from './webviewHtml.js';

/**
 * Shows one of the webview pages in `panel`: scripts on, only dist/webview and media readable, and
 * the page's strict HTML (`html`) with `title` (the panel's by default).
 */
export function showWebviewPage(panel: vscode.WebviewPanel, root: vscode.Uri, page: 'lineage' | 'run', html: (o: WebviewHtmlOptions) => string, title = panel.title): void {
  panel.webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(root, 'dist', 'webview'), vscode.Uri.joinPath(root, 'media')] };
  const uri = (file: string) => panel.webview.asWebviewUri(vscode.Uri.joinPath(root, ...file.split('/'))).toString();
  const files = webviewFiles(page);
  panel.webview.html = html({ cspSource: panel.webview.cspSource, scriptUri: uri(files.script), styleUris: files.styles.map(uri), title });
}
