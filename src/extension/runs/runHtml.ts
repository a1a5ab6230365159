/** The run webviews' page (run view, comparison, experiments): the shared strict page (../webviewHtml.ts). */
import { webviewHtml, type WebviewHtmlOptions } from '../webviewHtml.js';

export type RunHtmlOptions = WebviewHtmlOptions;

export function runHtml(o: RunHtmlOptions): string {
  return webviewHtml({ ...o, title: o.title ?? 'Run', placeholder: 'Loading…' });
}
