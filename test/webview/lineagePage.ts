/**
 * Opens the built lineage webview (dist/webview/lineage.js + media/lineage.css, with the same
 * HTML and Content-Security-Policy the extension serves) in headless Chromium. The page's host
 * boundary is `acquireVsCodeApi()`: here it records what the webview posts, and the test sends
 * messages the way VS Code does, as `message` events on the window.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { ExtensionToWebview, WebviewToExtension } from '../../src/core/webviewMessages.js';
import { lineageHtml } from '../../src/extension/lineage/lineageHtml.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ORIGIN = 'https://lineage.test';

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export interface LineagePage {
  page: Page;
  /** Messages the webview posted to its host, in order. */
  posted(): Promise<WebviewToExtension[]>;
  send(message: ExtensionToWebview): Promise<void>;
  /** Sends a graph and resolves once it is drawn (and painted). */
  sendAndWaitRender(message: ExtensionToWebview): Promise<void>;
  cspViolations(): Promise<string[]>;
  pageErrors: string[];
}

export async function openLineagePage(browser: Browser, opts: { width?: number; height?: number; bodyClass?: string } = {}): Promise<LineagePage> {
  const page = await browser.newPage({ viewport: { width: opts.width ?? 1200, height: opts.height ?? 800 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  // The test runner's TypeScript transform wraps named functions in `__name(fn, "name")`; the
  // functions handed to the page carry those calls, so the page needs the helper too.
  await page.addInitScript({ content: 'window.__name = (f) => f;' });
  await page.addInitScript((bodyClass: string) => {
    const w = window as unknown as Record<string, unknown>;
    w.__posted = [];
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => (w.__csp as string[]).push(`${e.violatedDirective} ${e.blockedURI}`));
    w.acquireVsCodeApi = () => ({
      postMessage: (m: unknown) => (w.__posted as unknown[]).push(JSON.parse(JSON.stringify(m))),
      getState: () => w.__state,
      setState: (s: unknown) => (w.__state = s),
    });
    if (bodyClass) document.addEventListener('DOMContentLoaded', () => document.body.classList.add(bodyClass));
  }, opts.bodyClass ?? '');
  await page.route(`${ORIGIN}/**`, (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path === '/index.html') {
      const html = lineageHtml({ cspSource: ORIGIN, scriptUri: `${ORIGIN}/dist/webview/lineage.js`, styleUri: `${ORIGIN}/media/lineage.css` });
      return route.fulfill({ contentType: 'text/html', body: html });
    }
    if (path === '/dist/webview/lineage.js' || path === '/media/lineage.css') {
      return route.fulfill({ contentType: path.endsWith('.css') ? 'text/css' : 'text/javascript', body: readFileSync(join(ROOT, path)) });
    }
    return route.fulfill({ status: 404, body: 'not found' });
  });
  await page.goto(`${ORIGIN}/index.html`);
  const posted = () => page.evaluate(() => (window as unknown as { __posted: WebviewToExtension[] }).__posted);
  const send = (m: ExtensionToWebview) => page.evaluate((msg) => window.postMessage(msg, '*'), m);
  return {
    page,
    posted,
    send,
    async sendAndWaitRender(m) {
      const before = await page.evaluate(() => document.querySelector('svg.graph')?.getAttribute('data-render-seq') ?? '0');
      await send(m);
      await page.waitForFunction((b) => (document.querySelector('svg.graph')?.getAttribute('data-render-seq') ?? '0') !== b, before, { timeout: 20_000 });
    },
    cspViolations: () => page.evaluate(() => (window as unknown as { __csp: string[] }).__csp),
    pageErrors,
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
