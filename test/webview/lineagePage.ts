/**
 * The built lineage webview in headless Chromium (see webviewPage.ts), with a way to wait for a
 * graph to be drawn.
 */
import type { Browser } from 'playwright-core';
import type { ExtensionToWebview, WebviewToExtension } from '../../src/core/webviewMessages.js';
import { lineageHtml } from '../../src/extension/lineage/lineageHtml.js';
import { openWebviewPage, type WebviewPage } from './webviewPage.js';

export { launchChromium } from './webviewPage.js';

export interface LineagePage extends WebviewPage<WebviewToExtension, ExtensionToWebview> {
  /** Sends a graph and resolves once it is drawn (and painted). */
  sendAndWaitRender(message: ExtensionToWebview): Promise<void>;
}

export async function openLineagePage(browser: Browser, opts: { width?: number; height?: number; bodyClass?: string } = {}): Promise<LineagePage> {
  const p = await openWebviewPage<WebviewToExtension, ExtensionToWebview>(browser, 'lineage', lineageHtml, { width: opts.width ?? 1200, height: opts.height ?? 800, bodyClass: opts.bodyClass });
  return {
    ...p,
    async sendAndWaitRender(m) {
      const before = await p.page.evaluate(() => document.querySelector('svg.graph')?.getAttribute('data-render-seq') ?? '0');
      await p.send(m);
      await p.page.waitForFunction((b) => (document.querySelector('svg.graph')?.getAttribute('data-render-seq') ?? '0') !== b, before, { timeout: 20_000 });
    },
  };
}

/** Measures, inside the page, from posting a graph to the first frame painted after drawing it. */
export async function timeFirstRender(p: LineagePage, m: ExtensionToWebview): Promise<{ totalMs: number; layoutMs: number; renderMs: number }> {
  return p.page.evaluate(async (msg) => {
    const svg = () => document.querySelector('svg.graph')!;
    const before = svg().getAttribute('data-render-seq');
    const t0 = performance.now();
    window.postMessage(msg, '*');
    await new Promise<void>((resolve) => {
      const check = () => (svg().getAttribute('data-render-seq') !== before ? resolve() : setTimeout(check, 1));
      check();
    });
    // Two frames: the one that applies style/layout for the new DOM, then one after its paint.
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    return {
      totalMs: performance.now() - t0,
      layoutMs: Number(svg().getAttribute('data-layout-ms')),
      renderMs: Number(svg().getAttribute('data-render-ms')),
    };
  }, m);
}
