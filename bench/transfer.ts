/**
 * Transfer benchmark: logging and downloading with Amphora next to the floor (OpenSSL SHA-256 +
 * `cp -r` of the same data) and peers (git-lfs, git-annex), on generated data in a temp dir.
 *
 *   node esbuild.mjs && npx tsx bench/transfer.ts [--quick] [--no-peers]
 *
 * The server runs as its own process (dist/server.mjs); the client is the SDK in this process.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Api } from '../src/client/api.js';
import { Artifact } from '../src/client/artifact.js';
import { Client } from '../src/client/client.js';
import { startServerProcess } from './server-process.js';

const quick = process.argv.includes('--quick');
const peers = !process.argv.includes('--no-peers');
/** `--only=large` or `--only=small`: one half of the scenarios (profiling one path at a time). */
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const doLarge = only !== 'small';
const doSmall = only !== 'large';
const LARGE_FILES = 8;
const LARGE_SIZE = quick ? 8 << 20 : 128 << 20;
const SMALL_FILES = quick ? 1_000 : 10_000;
const SMALL_SIZE = 4096;
const ANNEX_SMALL_LIMIT_S = 200;

const base = mkdtempSync(path.join(process.env.BENCH_DIR ?? tmpdir(), 'amphora-bench-'));
const large = path.join(base, 'large');
const small = path.join(base, 'small');

type Cell = number | string | undefined;
interface Row {
  name: string;
  amphora: Cell;
  floor: Cell;
  lfs: Cell;
  annex: Cell;
  /** The Python client (bench/python_transfer.py) on the same data. */
  python?: Cell;
  note: string;
  /** The target from the issue, and whether this run met it. */
  target?: string;
  met?: boolean;
}
const rows: Row[] = [];

function log(msg: string) {
  process.stderr.write(`[bench] ${msg}\n`);
}

/** Flushes dirty pages first so one step's writeback is not billed to the next. */
function settle() {
  spawnSync('sync');
}

/** Seconds `fn` took and its result; NaN (and no result) when the step is skipped (--only). */
async function time<T>(fn: () => Promise<T> | T, run = true): Promise<[number, T]> {
  if (!run) return [NaN, {} as T];
  settle();
  const t0 = performance.now();
  const out = await fn();
  return [(performance.now() - t0) / 1000, out];
}

/** Runs a shell command, returns seconds, or undefined after `limitS` (killed). */
function sh(cmd: string, cwd: string, limitS = 600): number | undefined {
  const t0 = performance.now();
  const r = spawnSync('bash', ['-c', cmd], {
    cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: limitS * 1000,
    env: { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'b@x', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'b@x' },
  });
  const s = (performance.now() - t0) / 1000;
  if (r.error || r.signal) return undefined;
  if (r.status !== 0) throw new Error(`"${cmd}" failed: ${r.stderr.toString().slice(0, 400)}`);
  return s;
}

function generate() {
  mkdirSync(large, { recursive: true });
  mkdirSync(small, { recursive: true });
  const chunk = Buffer.alloc(8 << 20);
  randomFillSync(chunk);
  for (let f = 0; f < LARGE_FILES; f++) {
    const fd = openSync(path.join(large, `shard-${f}.bin`), 'w');
    for (let c = 0; c < LARGE_SIZE / chunk.length; c++) {
      chunk.writeUInt32LE(f, 0);
      chunk.writeUInt32LE(c, 4);
      writeSync(fd, chunk);
    }
    closeSync(fd);
  }
  const all = randomBytes(SMALL_FILES * SMALL_SIZE);
  for (let i = 0; i < SMALL_FILES; i++) {
    const dir = path.join(small, `d${Math.floor(i / 1000)}`);
    if (i % 1000 === 0) mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `f${i}.bin`), all.subarray(i * SMALL_SIZE, (i + 1) * SMALL_SIZE));
  }
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

/** Floor: OpenSSL SHA-256 of every file + `cp -r` of the folder. */
function floor(dir: string, copyTo: string): number {
  settle();
  const files = listFiles(dir);
  const list = path.join(base, 'filelist.txt');
  writeFileSync(list, files.join('\0'));
  const hash = sh(`xargs -0 -n 2000 openssl dgst -sha256 < ${list} > /dev/null`, base)!;
  const copy = sh(`cp -r ${dir} ${copyTo}`, base)!;
  return hash + copy;
}

function gitLfs(src: string, repo: string): { add?: number; readd?: number } {
  sh(`cp -r ${src} ${repo}`, base);
  settle();
  sh('git init -q && git config gc.auto 0 && git config maintenance.auto false && git lfs install --local >/dev/null && git lfs track "*.bin" >/dev/null && git add .gitattributes && git commit -qm attrs', repo);
  const add = sh('git add -A && git commit -qm data', repo)!;
  const readd = sh('git add -A && git status --porcelain >/dev/null', repo)!;
  return { add, readd };
}

function gitAnnex(src: string, repo: string, limitS: number): { add?: number; readd?: number } {
  sh(`cp -r ${src} ${repo}`, base);
  sh('git init -q && git config gc.auto 0 && git config maintenance.auto false && git annex init -q bench >/dev/null 2>&1', repo);
  settle();
  const add = sh('git annex add --quiet . >/dev/null && git commit -qm data', repo, limitS);
  if (add === undefined) return {};
  const readd = sh('git annex add --quiet . >/dev/null', repo, limitS);
  return { add, readd };
}

/**
 * The Python client's figures for the same scenarios on the same generated data, by scenario name.
 * It runs its own server on an empty data dir: on ours every blob is already stored, so its "log"
 * would only measure a re-log.
 */
function pythonFigures(): Map<string, number> {
  const r = spawnSync('python3', [path.resolve('bench/python_transfer.py'), '--json', '--data', base, ...(quick ? ['--quick'] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 1800_000,
  });
  if (r.error || r.status !== 0) throw new Error(`python3 bench/python_transfer.py failed (${r.error?.message ?? `exit ${r.status}`})`);
  const figures = JSON.parse(r.stdout.toString()) as { name: string; seconds: number }[];
  return new Map(figures.map((f) => [f.name, f.seconds]));
}

function fmt(c: Cell): string {
  if (c === undefined) return '—';
  if (typeof c === 'string') return c;
  return c < 10 ? `${c.toFixed(2)} s` : `${c.toFixed(1)} s`;
}

function printTable() {
  const head = ['scenario', 'amphora', 'target', 'met', 'python', 'floor: openssl+cp', 'git lfs', 'git annex', 'notes'];
  const shown = rows.filter((r) => !(typeof r.amphora === 'number' && Number.isNaN(r.amphora)));
  const body = shown.map((r) => [r.name, fmt(r.amphora), r.target ?? '—', r.met === undefined ? '—' : r.met ? 'yes' : 'NO', fmt(r.python), fmt(r.floor), fmt(r.lfs), fmt(r.annex), r.note]);
  const all = [head, ...body];
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join(' | ');
  console.log(line(head));
  console.log(w.map((n) => '-'.repeat(n)).join('-|-'));
  for (const r of body) console.log(line(r));
}

async function main() {
  const largeLabel = `${LARGE_FILES} × ${LARGE_SIZE >> 20} MiB`;
  const smallLabel = `${SMALL_FILES.toLocaleString('en')} × 4 KiB`;
  log(`generating ${largeLabel} and ${smallLabel} in ${base}`);
  generate();
  const server = await startServerProcess(path.join(base, 'server-data'));
  log(`server ${server.url} (pid ${server.pid})`);
  const producer = await Client.connect({ baseUrl: server.url, apiKey: server.apiKey, cacheDir: path.join(base, 'cache-producer'), env: {} });
  try {
    // ---- log
    const [tLarge] = await time(async () => {
      const a = new Artifact('large', 'dataset');
      await a.addDir(large);
      return a.log({ client: producer, project: 'bench' });
    }, doLarge);
    const fLarge = doLarge ? floor(large, path.join(base, 'copy-large')) : NaN;
    const largeMiB = (LARGE_FILES * LARGE_SIZE) / 2 ** 20;
    const [tSmall] = await time(async () => {
      const a = new Artifact('small', 'dataset');
      await a.addDir(small);
      return a.log({ client: producer, project: 'bench' });
    }, doSmall);
    const fSmall = doSmall ? floor(small, path.join(base, 'copy-small')) : NaN;
    // Re-log with a new client (as a new process would: stat cache loaded from disk).
    const relogClient = await Client.connect({ baseUrl: server.url, apiKey: server.apiKey, cacheDir: path.join(base, 'cache-producer'), env: {} });
    const [tRelog, relogged] = await time(async () => {
      const a = new Artifact('small', 'dataset');
      await a.addDir(small);
      return a.log({ client: relogClient, project: 'bench' });
    }, doSmall);
    const rehashed = relogClient.statCache.hashed;
    await relogClient.close();

    // ---- download (a consumer with an empty cache)
    const consumer = await Client.connect({ baseUrl: server.url, apiKey: server.apiKey, cacheDir: path.join(base, 'cache-consumer'), env: {} });
    const api = new Api({ client: consumer });
    const dl = async (ref: string, root: string) => {
      const a = await api.artifact(ref);
      return a.download({ root: path.join(base, root) });
    };
    const [tColdLarge] = await time(() => dl('bench/large:latest', 'dl-large-1'), doLarge);
    const [tCacheLarge] = await time(() => dl('bench/large:latest', 'dl-large-2'), doLarge);
    const [tColdSmall] = await time(() => dl('bench/small:latest', 'dl-small-1'), doSmall);
    const [tCacheSmall, cacheSmallStats] = await time(() => dl('bench/small:latest', 'dl-small-2'), doSmall);
    const [tAgainSmall, againStats] = await time(() => dl('bench/small:latest', 'dl-small-2'), doSmall);
    await consumer.close();

    // ---- peers
    let lfsL: { add?: number; readd?: number } = {};
    let lfsS: { add?: number; readd?: number } = {};
    let annexL: { add?: number; readd?: number } = {};
    let annexS: { add?: number; readd?: number } = {};
    if (peers) {
      const attempt = <T>(what: string, fn: () => T, fallback: T): T => {
        try {
          return fn();
        } catch (e) {
          log(`${what} failed: ${(e as Error).message}`);
          return fallback;
        }
      };
      log('git lfs …');
      lfsL = attempt('git lfs (large)', () => gitLfs(large, path.join(base, 'lfs-large')), {});
      rmSync(path.join(base, 'lfs-large'), { recursive: true, force: true, maxRetries: 5 });
      lfsS = attempt('git lfs (small)', () => gitLfs(small, path.join(base, 'lfs-small')), {});
      rmSync(path.join(base, 'lfs-small'), { recursive: true, force: true, maxRetries: 5 });
      log('git annex …');
      annexL = attempt('git annex (large)', () => gitAnnex(large, path.join(base, 'annex-large'), 600), {});
      if (!quick) annexS = attempt('git annex (small)', () => gitAnnex(small, path.join(base, 'annex-small'), ANNEX_SMALL_LIMIT_S), {});
    }

    const rate = (n: number, s: number) => `${Math.round(n / s).toLocaleString('en')} files/s`;
    const xFloor = (t: number, f: number) => `${(t / f).toFixed(2)}× floor`;
    const annexSmall = !peers ? 'skipped' : quick ? 'skipped' : annexS.add ?? `> ${ANNEX_SMALL_LIMIT_S} s`;
    rows.push(
      { name: `log ${largeLabel}`, amphora: tLarge, floor: fLarge, lfs: lfsL.add, annex: annexL.add, target: '≤ 1.5× floor', met: tLarge <= 1.5 * fLarge, note: `${(largeMiB / tLarge).toFixed(0)} MiB/s; ${xFloor(tLarge, fLarge)}` },
      { name: `log ${smallLabel}`, amphora: tSmall, floor: fSmall, lfs: lfsS.add, annex: annexSmall, target: '≥ 3,000 files/s', met: SMALL_FILES / tSmall >= 3000, note: rate(SMALL_FILES, tSmall) },
      { name: `re-log unchanged ${smallLabel}`, amphora: tRelog, floor: undefined, lfs: lfsS.readd, annex: quick || !peers ? 'skipped' : annexS.readd, target: '< 1 s', met: tRelog < 1, note: `${rehashed} re-hashed, ${relogged.version} reused` },
      { name: `download ${largeLabel}, cold cache`, amphora: tColdLarge, floor: fLarge, lfs: undefined, annex: undefined, target: '≤ 1.5× floor', met: tColdLarge <= 1.5 * fLarge, note: `${(largeMiB / tColdLarge).toFixed(0)} MiB/s; ${xFloor(tColdLarge, fLarge)}` },
      { name: `download ${largeLabel}, cached, new root`, amphora: tCacheLarge, floor: fLarge, lfs: undefined, annex: undefined, target: '≤ 1.5× floor', met: tCacheLarge <= 1.5 * fLarge, note: `verify + copy from cache; ${xFloor(tCacheLarge, fLarge)}` },
      { name: `download ${smallLabel}, cold cache`, amphora: tColdSmall, floor: fSmall, lfs: undefined, annex: undefined, target: '≥ 3,000 files/s', met: SMALL_FILES / tColdSmall >= 3000, note: rate(SMALL_FILES, tColdSmall) },
      { name: `download ${smallLabel}, cached, new root`, amphora: tCacheSmall, floor: fSmall, lfs: undefined, annex: undefined, target: '< 1 s', met: tCacheSmall < 1, note: `${cacheSmallStats.fromCache} from cache, 0 fetched` },
      { name: `download ${smallLabel} again, same root`, amphora: tAgainSmall, floor: undefined, lfs: undefined, annex: undefined, target: '< 1 s', met: tAgainSmall < 1, note: `${againStats.unchanged} unchanged` },
    );
    if (!only) {
      log('python client …');
      try {
        const py = pythonFigures();
        for (const r of rows) r.python = py.get(r.name);
      } catch (e) {
        log(`python client: ${(e as Error).message}`);
      }
    }
  } finally {
    await producer.close();
    await server.stop();
    // git-annex leaves read-only object folders behind; make them removable first.
    spawnSync('chmod', ['-R', 'u+w', base]);
    rmSync(base, { recursive: true, force: true, maxRetries: 5 });
  }
  console.log(`\nAmphora transfer benchmark${quick ? ' (--quick)' : ''} — ${new Date().toISOString()}, ${(await import('node:os')).cpus().length} cores\n`);
  printTable();
}

main().catch((e) => {
  console.error(e);
  try {
    rmSync(base, { recursive: true, force: true });
  } catch {
    /* ignore */
  }
  process.exit(1);
});
