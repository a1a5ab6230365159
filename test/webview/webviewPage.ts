/**
 * Opens a built webview page (its bundle and stylesheets from dist/ and media/, with the same HTML
 * and Content-Security-Policy the extension serves) in headless Chromium. The page's host
 * boundary is `acquireVsCodeApi()`: here it records what the page posts, and the test sends
 * messages the way VS Code does, as `message` events on the window.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { webviewFiles, type WebviewHtmlOptions } from '../../src/extension/webviewHtml.js';

const ROOT = join(import.meta.dirname, '..', '..');

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export interface WebviewPage<Posted, Sent> {
  page: Page;
  /** Messages the page posted to its host, in order. */
  posted(): Promise<Posted[]>;
  send(message: Sent): Promise<void>;
  cspViolations(): Promise<string[]>;
  pageErrors: string[];
}

export interface WebviewPageOptions {
  width: number;
  height: number;
  /** A class VS Code puts on <body> (a theme kind such as `vscode-high-contrast`). */
  bodyClass?: string;
}

export async function openWebviewPage<Posted, Sent>(
  browser: Browser,
  name: 'lineage' | 'run',
  html: (o: WebviewHtmlOptions) => string,
  opts: WebviewPageOptions,
): Promise<WebviewPage<Posted, Sent>> {
  const origin = `https://${name}.test`;
  const files = webviewFiles(name);
  const page = await browser.newPage({ viewport: { width: opts.width, height: opts.height } });
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
  const served = new Set([files.script, ...files.styles].map((f) => `/${f}`));
  await page.route(`${origin}/**`, (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path === '/index.html') {
      const body = html({ cspSource: origin, scriptUri: `${origin}/${files.script}`, styleUris: files.styles.map((f) => `${origin}/${f}`) });
      return route.fulfill({ contentType: 'text/html', body });
    }
    if (served.has(path) && existsSync(join(ROOT, path))) {
      return route.fulfill({ contentType: path.endsWith('.css') ? 'text/css' : 'text/javascript', body: readFileSync(join(ROOT, path)) });
    }
    return route.fulfill({ status: 404, body: 'not found' });
  });
  await page.goto(`${origin}/index.html`);
  // Every stylesheet the page links must have loaded with rules (a missing one only looks a bit off).
  const sheets = await page.evaluate(() => [...document.styleSheets].map((s) => ({ href: s.href, rules: s.cssRules.length })));
  const loaded = sheets.filter((s) => s.rules > 0).map((s) => new URL(s.href!).pathname.slice(1));
  if (loaded.join(' ') !== files.styles.join(' ')) throw new Error(`the ${name} page loaded stylesheets [${loaded.join(', ')}], expected [${files.styles.join(', ')}]`);
  return {
    page,
    posted: () => page.evaluate(() => (window as unknown as { __posted: Posted[] }).__posted),
    send: (m: Sent) => page.evaluate((msg) => window.postMessage(msg, '*'), m as unknown),
    cspViolations: () => page.evaluate(() => (window as unknown as { __csp: string[] }).__csp),
    pageErrors,
  };
}
