/** The lineage webview's page: the shared strict page (../webviewHtml.ts) with the d3 bundle. */
import { webviewHtml, type WebviewHtmlOptions } from '../webviewHtml.js';

export type LineageHtmlOptions = WebviewHtmlOptions;

export function lineageHtml(o: LineageHtmlOptions): string {
  return webviewHtml({ ...o, title: o.title ?? 'Lineage', placeholder: 'Loading lineage…' });
}
