/**
 * The run webviews' HTML: the lineage view's strict Content-Security-Policy (nothing remote,
 * scripts only with this page's nonce, styles only from the extension, images as data: URLs
 * the extension reads from the server). Free of `vscode` so the webview tests load this page.
 */
import { lineageCsp, makeNonce } from '../lineage/lineageHtml.js';

export interface RunHtmlOptions {
  cspSource: string;
  scriptUri: string;
  styleUri: string;
  nonce?: string;
  title?: string;
}

export function runHtml(o: RunHtmlOptions): string {
  const nonce = o.nonce ?? makeNonce();
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${esc(lineageCsp(o.cspSource, nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${esc(o.styleUri)}">
<title>${esc(o.title ?? 'Run')}</title>
</head>
<body>
<div id="app" aria-busy="true"><p class="placeholder">Loading…</p></div>
<script nonce="${nonce}" src="${esc(o.scriptUri)}"></script>
</body>
</html>`;
}
