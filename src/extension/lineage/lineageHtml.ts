/**
 * The lineage webview's HTML: a strict Content-Security-Policy (nothing remote, scripts only
 * with this page's nonce, styles only from the extension) and one script, the d3 bundle.
 * Free of `vscode` so the webview tests load exactly this page in Chromium.
 */
import { randomBytes } from 'node:crypto';

export interface LineageHtmlOptions {
  /** `webview.cspSource`: the origin the extension's own files are served from. */
  cspSource: string;
  scriptUri: string;
  styleUri: string;
  nonce?: string;
  title?: string;
}

export function makeNonce(): string {
  return randomBytes(18).toString('base64url');
}

export function lineageCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `style-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
  ].join('; ');
}

export function lineageHtml(o: LineageHtmlOptions): string {
  const nonce = o.nonce ?? makeNonce();
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${esc(lineageCsp(o.cspSource, nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${esc(o.styleUri)}">
<title>${esc(o.title ?? 'Lineage')}</title>
</head>
<body>
<div id="app" aria-busy="true"><p class="placeholder">Loading lineage…</p></div>
<script nonce="${nonce}" src="${esc(o.scriptUri)}"></script>
</body>
</html>`;
}
