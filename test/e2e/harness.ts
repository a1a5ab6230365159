/**
 * Real-editor harness: a real Amphora server on a temp data dir, the packaged .vsix installed
 * into code-server (VS Code 1.100.3 in the browser) with temp extension/user-data dirs, and
 * Debian's Chromium driven by playwright-core. Everything started here runs in its own process
 * group and is killed in `stop()`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { chromium, type Browser, type Page } from 'playwright-core';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const SHOTS = path.join(REPO, 'test-results', 'e2e');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function killGroup(p: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM') {
  if (!p?.pid || p.exitCode !== null || p.signalCode !== null) return;
  try {
    process.kill(-p.pid, signal);
  } catch {
    /* already gone */
  }
}

async function waitExit(p: ChildProcess | undefined, ms: number): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      killGroup(p, 'SIGKILL');
      resolve();
    }, ms);
    p.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** Polls `fn` until it returns a truthy value; fails with `what` after `ms`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 20_000, every = 200): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export interface Harness {
  root: string;
  dataDir: string;
  cacheDir: string;
  workspace: string;
  server: { url: string; apiKey: string; pid: number };
  /** Stops the test's own server (SIGTERM) and waits for it to exit. */
  stopServer(): Promise<void>;
  page: Page;
  shot(name: string): Promise<string>;
  stop(): Promise<void>;
}

export async function codeServerBin(): Promise<string> {
  const r = spawnSync('bash', [path.join(REPO, 'scripts/install-code-server.sh')], { encoding: 'utf8', timeout: 15 * 60_000 });
  if (r.status !== 0) throw new Error(`installing code-server failed: ${r.stderr}`);
  const bin = r.stdout.trim().split('\n').pop()!;
  if (!existsSync(bin)) throw new Error(`code-server launcher ${bin} is missing`);
  return bin;
}

export function packageVsix(out: string): string {
  if (process.env.AMPHORA_E2E_VSIX) return process.env.AMPHORA_E2E_VSIX;
  const r = spawnSync('bash', [path.join(REPO, 'scripts/package-vsix.sh'), out], { cwd: REPO, encoding: 'utf8', timeout: 5 * 60_000 });
  if (r.status !== 0) throw new Error(`packaging the .vsix failed: ${r.stderr}`);
  return out;
}

/**
 * Starts the standalone server bundle (what the extension would start) on a free port. When the
 * start fails (no listening line in time, no discovery file) the server is stopped before the
 * error is thrown: the caller never got a handle to stop it with.
 */
export async function startAmphoraServer(
  dataDir: string,
  log: (l: string) => void,
  team?: { bootstrapKey: string },
  opts: { timeoutMs?: number; onSpawn?: (proc: ChildProcess) => void } = {},
): Promise<{ proc: ChildProcess; url: string; apiKey: string }> {
  const proc = spawn(process.execPath, [path.join(REPO, 'dist/server.mjs'), '--data-dir', dataDir, '--port', '0', ...(team ? ['--team'] : [])], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: team ? { ...process.env, AMPHORA_BOOTSTRAP_KEY: team.bootstrapKey } : process.env,
  });
  opts.onSpawn?.(proc);
  try {
    // Generous: PGlite's first start took 34 s on this 2-core machine under load; only a failure waits this long.
    return await waitForAmphoraServer(proc, dataDir, log, team, opts.timeoutMs ?? 120_000);
  } catch (e) {
    killGroup(proc);
    await waitExit(proc, 10_000);
    throw e;
  }
}

async function waitForAmphoraServer(proc: ChildProcess, dataDir: string, log: (l: string) => void, team: { bootstrapKey: string } | undefined, timeoutMs: number) {
  createInterface({ input: proc.stderr! }).on('line', log);
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`the Amphora server did not print its listening line within ${timeoutMs} ms`)), timeoutMs);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      log(line);
      try {
        const o = JSON.parse(line);
        if (o.event === 'listening') {
          clearTimeout(t);
          resolve(o.url);
        }
      } catch {
        /* log line */
      }
    });
    proc.once('exit', (code) => reject(new Error(`the Amphora server exited with ${code} during start-up`)));
  });
  // A team server publishes no key: its site admin key is the bootstrap key.
  if (team) return { proc, url, apiKey: team.bootstrapKey };
  const discovery = JSON.parse(readFileSync(path.join(dataDir, 'server.json'), 'utf8'));
  return { proc, url, apiKey: discovery.apiKey };
}

export async function startHarness(opts: {
  files: Record<string, string>;
  /** User settings; a function gets the test server's URL (e.g. for amphora.serverUrl). */
  settings?: Record<string, unknown> | ((serverUrl: string) => Record<string, unknown>);
  /** Start the test server in team mode with this site admin key. */
  team?: { bootstrapKey: string };
  /** Start the editor without the Amphora extension (bench/extension-host.ts's baseline). */
  withoutAmphora?: boolean;
}): Promise<Harness> {
  mkdirSync(SHOTS, { recursive: true });
  const root = mkdtempSync(path.join(tmpdir(), 'amphora-e2e-'));
  const dataDir = path.join(root, 'data');
  const cacheDir = path.join(root, 'cache');
  const workspace = path.join(root, 'workspace');
  const extDir = path.join(root, 'extensions');
  const userDir = path.join(root, 'user');
  for (const d of [dataDir, cacheDir, workspace, extDir, path.join(userDir, 'User')]) mkdirSync(d, { recursive: true });
  const logFile = path.join(root, 'e2e.log');
  const log = (l: string) => writeFileSync(logFile, l + '\n', { flag: 'a' });

  for (const [rel, text] of Object.entries(opts.files)) {
    mkdirSync(path.dirname(path.join(workspace, rel)), { recursive: true });
    writeFileSync(path.join(workspace, rel), text);
  }
  const writeSettings = (serverUrl: string) => writeFileSync(
    path.join(userDir, 'User', 'settings.json'),
    JSON.stringify({
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'security.workspace.trust.enabled': false,
      'extensions.ignoreRecommendations': true,
      'telemetry.telemetryLevel': 'off',
      'update.mode': 'none',
      'editor.hover.delay': 200,
      'window.restoreWindows': 'none',
      'files.exclude': { '**/.vscode': true },
      ...(typeof opts.settings === 'function' ? opts.settings(serverUrl) : opts.settings),
    }),
  );

  let server: Awaited<ReturnType<typeof startAmphoraServer>> | undefined;
  let codeServer: ChildProcess | undefined;
  let browser: Browser | undefined;
  const stop = async () => {
    await browser?.close().catch(() => undefined);
    // A server the extension started itself (bundled) is named by the discovery file.
    let bundledPid: number | undefined;
    try {
      bundledPid = JSON.parse(readFileSync(path.join(dataDir, 'server.json'), 'utf8')).pid;
    } catch {
      /* none */
    }
    killGroup(codeServer);
    killGroup(server?.proc);
    await Promise.all([waitExit(codeServer, 10_000), waitExit(server?.proc, 10_000)]);
    if (bundledPid && bundledPid !== server?.proc.pid) {
      try {
        process.kill(bundledPid, 'SIGTERM');
      } catch {
        /* it stopped with its editor */
      }
    }
    if (!process.env.AMPHORA_E2E_KEEP) rmSync(root, { recursive: true, force: true });
    else console.log(`kept ${root}`);
  };
  try {
    const bin = await codeServerBin();
    const vsix = packageVsix(path.join(root, 'amphora.vsix'));
    server = await startAmphoraServer(dataDir, log, opts.team);
    writeSettings(server.url);
    const env = {
      ...process.env,
      AMPHORA_DATA_DIR: dataDir,
      AMPHORA_CACHE_DIR: cacheDir,
      AMPHORA_BASE_URL: '',
      AMPHORA_API_KEY: '',
      XDG_DATA_HOME: path.join(root, 'xdg-data'),
      XDG_CONFIG_HOME: path.join(root, 'xdg-config'),
      XDG_CACHE_HOME: path.join(root, 'xdg-cache'),
    };
    delete (env as Record<string, string | undefined>).AMPHORA_BASE_URL;
    delete (env as Record<string, string | undefined>).AMPHORA_API_KEY;
    if (!opts.withoutAmphora) {
      const inst = spawnSync(bin, ['--extensions-dir', extDir, '--user-data-dir', userDir, '--install-extension', vsix], { env, encoding: 'utf8', timeout: 120_000 });
      if (inst.status !== 0) throw new Error(`code-server --install-extension failed: ${inst.stderr || inst.stdout}`);
    }
    const port = await freePort();
    codeServer = spawn(
      bin,
      ['--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--extensions-dir', extDir, '--user-data-dir', userDir,
        '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
        workspace],
      { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    createInterface({ input: codeServer.stdout! }).on('line', (l) => log(`[code-server] ${l}`));
    createInterface({ input: codeServer.stderr! }).on('line', (l) => log(`[code-server] ${l}`));
    await until('code-server to answer', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 180_000, 300);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`, { timeout: 60_000 });
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    return {
      root,
      dataDir,
      cacheDir,
      workspace,
      server: { url: server.url, apiKey: server.apiKey, pid: server.proc.pid! },
      stopServer: async () => {
        killGroup(server?.proc);
        await waitExit(server?.proc, 10_000);
      },
      page,
      shot: async (name) => {
        const file = path.join(SHOTS, `${name}.png`);
        await page.screenshot({ path: file });
        return file;
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Clicks an activity-bar entry, then moves the pointer off the activity bar: otherwise its
 * tooltip ("Explorer (Ctrl+Shift+E)") can open over the side bar and swallow the next click,
 * which happened on a loaded machine.
 */
export async function clickActivity(page: Page, label: string, timeout = 30_000): Promise<void> {
  await page.locator(`.activitybar [aria-label^="${label}"]`).first().click({ timeout });
  const size = page.viewportSize() ?? { width: 1500, height: 950 };
  await page.mouse.move(size.width - 40, size.height - 60);
  await page
    .locator('.context-view .hover-contents, .workbench-hover')
    .first()
    .waitFor({ state: 'hidden', timeout: 3_000 })
    .catch(() => page.keyboard.press('Escape'));
}
