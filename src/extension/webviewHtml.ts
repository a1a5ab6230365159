/**
 * The HTML of every Amphora webview: a strict Content-Security-Policy (nothing remote, scripts
 * only with this page's nonce, styles only from the extension, images from the extension or as
 * data: URLs the extension reads from the server) and one script bundle. Free of `vscode` so the
 * webview tests load exactly these pages in Chromium.
 */
import { randomBytes } from 'node:crypto';

export interface WebviewHtmlOptions {
  /** `webview.cspSource`: the origin the extension's own files are served from. */
  cspSource: string;
  scriptUri: string;
  /** The shared stylesheet, then the page's own (see webviewFiles). */
  styleUris: string[];
  nonce?: string;
  title?: string;
}

/** A webview page's files, relative to the extension's root: its bundle, then shared.css and its own stylesheet. */
export function webviewFiles(page: 'lineage' | 'run'): { script: string; styles: string[] } {
  return { script: `dist/webview/${page}.js`, styles: ['media/shared.css', `media/${page}.css`] };
}

export function makeNonce(): string {
  return randomBytes(18).toString('base64url');
}

export function webviewCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `style-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
  ].join('; ');
}

/** `title` is the page's default title; `placeholder` shows until the script draws. */
export function webviewHtml(o: WebviewHtmlOptions & { title: string; placeholder: string }): string {
  const nonce = o.nonce ?? makeNonce();
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${esc(webviewCsp(o.cspSource, nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
${o.styleUris.map((href) => `<link rel="stylesheet" href="${esc(href)}">`).join('\n')}
<title>${esc(o.title)}</title>
</head>
<body>
<div id="app" aria-busy="true"><p class="placeholder">${esc(o.placeholder)}</p></div>
<script nonce="${nonce}" src="${esc(o.scriptUri)}"></script>
</body>
</html>`;
}
