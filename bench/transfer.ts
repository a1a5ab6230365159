/**
 * Transfer benchmark: logging and downloading as users run it, next to the floor.
 *
 *   node esbuild.mjs && npx tsx bench/transfer.ts [--quick] [--no-peers] [--only=large|small] [--modes=sdk,cli,python]
 *   npm run bench:quick     # 1,000 files + 64 MiB; every row as a ratio to its floor
 *
 * Three clients run the same scenarios, each against its own server process (dist/server.mjs) on
 * an empty data dir with its own caches, so every "log" is a real upload:
 *   - sdk:    the TypeScript SDK inside this (warm) process;
 *   - cli:    `node dist/cli.mjs artifact put/get`, one cold process per step — what users run;
 *   - python: `python3 -c '<script>'` with the stdlib client, one cold process per step.
 * Floors: `openssl dgst -sha256` of every file + `cp -r` (plain), and + `sync` (durable: Amphora
 * acknowledges a version only once its bytes are on disk, which plain `cp` never waits for).
 * Targets are for the CLI (whole process, cold); the Python client's target is within 1.5× of the CLI.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { closeSync, cpSync, mkdirSync, readFileSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { cpus as cpuList, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Api } from '../src/client/api.js';
import { Artifact } from '../src/client/artifact.js';
import { Client } from '../src/client/client.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const doLarge = only !== 'small';
const doSmall = only !== 'large';
const modeNames = (process.argv.find((a) => a.startsWith('--modes='))?.slice(8) ?? 'sdk,cli,python').split(',') as ModeName[];
const hasTool = (t: string) => spawnSync('bash', ['-c', `command -v ${t}`]).status === 0;
const peers = !process.argv.includes('--no-peers') && !quick;
const LARGE_FILES = 8;
const LARGE_SIZE = quick ? 8 << 20 : 64 << 20;
const SMALL_FILES = quick ? 1_000 : 10_000;
const SMALL_SIZE = 4096;
const ANNEX_SMALL_LIMIT_S = 200;
const CLI = path.resolve('dist/cli.mjs');
const PYTHONPATH = path.resolve('python');
// The interpreter itself, not a version manager's shim: pyenv's `python3` runs a few bash
// processes per call (~0.1-0.5 s), a cost of this machine's setup rather than of the client.
const PYTHON = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout.trim() || 'python3';

const base = mkdtempSync(path.join(process.env.BENCH_DIR ?? tmpdir(), 'amphora-bench-'));
const large = path.join(base, 'large');
const small = path.join(base, 'small');
// Other bytes of the same sizes, logged with policy "immutable" (the cache hard-links them): the
// same content again would upload nothing.
const largeImm = path.join(base, 'large-immutable');
const smallImm = path.join(base, 'small-immutable');
const largeLabel = `${LARGE_FILES} × ${LARGE_SIZE >> 20} MiB`;
const smallLabel = `${SMALL_FILES.toLocaleString('en')} × 4 KiB`;
const largeMiB = (LARGE_FILES * LARGE_SIZE) / 2 ** 20;

type ModeName = 'sdk' | 'cli' | 'python';
/** Seconds and a short note (files fetched, versions reused…) per scenario. */
interface Timing {
  s: number;
  note?: string;
  /** CPU seconds (user + system) of the client and of the server during the step: unlike wall time, barely moved by other load on the machine. */
  cpu?: number;
  serverCpu?: number;
  /** creationProbe() just before the step. */
  probe?: number;
}
type Scenario = 'help' | 'putLarge' | 'putSmall' | 'reputSmall' | 'putLargeImmutable' | 'putSmallImmutable' | 'getLargeCold' | 'getLargeCached' | 'getSmallCold' | 'getSmallCached' | 'getSmallAgain' | 'getLargeSkipCache' | 'getSmallSkipCache';

function log(msg: string) {
  process.stderr.write(`[bench] ${msg}\n`);
}

/** Flushes dirty pages first so one step's writeback is not billed to the next. */
function settle() {
  spawnSync('sync');
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

const TIME = '/usr/bin/time';
const haveTime = spawnSync(TIME, ['-f', '%U', 'true']).status === 0;

/**
 * Runs one process to completion and times it (wall, and CPU through GNU time when installed);
 * its stdout is parsed as JSON.
 */
function runProcess(cmd: string, args: string[], env: Record<string, string>): { s: number; cpu?: number; out: Record<string, unknown> } {
  settle();
  const cpuFile = path.join(base, 'cpu.txt');
  const [exe, argv] = haveTime ? [TIME, ['-f', '%U %S', '-o', cpuFile, cmd, ...args]] : [cmd, args];
  const t0 = performance.now();
  const r = spawnSync(exe, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  const s = (performance.now() - t0) / 1000;
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 4).join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr.toString().slice(-600)}`);
  const cpu = haveTime ? readFileSync(cpuFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number).reduce((a, b) => a + b, 0) : undefined;
  const text = r.stdout.toString().trim();
  return { s, cpu, out: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/**
 * What creating a small file costs on this file system right now: system CPU seconds per file for
 * 500 fresh 4 KiB files, run before each step. On ext4 without a journal (this machine's root) the
 * inode allocator skips every inode deleted in the last minute or more (`recently_deleted`), so
 * after anyone's `rm -rf` of many files each creation costs several times more system CPU; a step
 * whose probe is high was slowed by the file system, not by the client. The probe's files are kept
 * until the end: deleting them would be exactly that load.
 */
let probes = 0;
function creationProbe(): number {
  const dir = path.join(base, `probe-${probes++}`);
  mkdirSync(dir);
  const bytes = Buffer.alloc(SMALL_SIZE, 1);
  const c0 = process.cpuUsage();
  for (let i = 0; i < 500; i++) writeFileSync(path.join(dir, `p${i}`), bytes);
  return process.cpuUsage(c0).system / 1e6 / 500;
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function processCpu(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function generate(large: string, small: string, variant: number) {
  mkdirSync(large, { recursive: true });
  mkdirSync(small, { recursive: true });
  const chunk = Buffer.alloc(8 << 20);
  randomFillSync(chunk);
  for (let f = 0; f < LARGE_FILES; f++) {
    const fd = openSync(path.join(large, `shard-${f}.bin`), 'w');
    for (let c = 0; c < LARGE_SIZE / chunk.length; c++) {
      chunk.writeUInt32LE(f, 0);
      chunk.writeUInt32LE(c, 4);
      chunk.writeUInt32LE(variant, 8);
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

/** Floors for `dir`: OpenSSL SHA-256 of every file + `cp -r`, and the same + `sync` (durable). */
function floors(dir: string, tag: string): { plain: number; durable: number } {
  const files = listFiles(dir);
  const list = path.join(base, 'filelist.txt');
  writeFileSync(list, files.join('\0'));
  const hashOnce = () => {
    settle();
    return sh(`xargs -0 -n 2000 openssl dgst -sha256 < ${list} > /dev/null`, base)!;
  };
  const plainHash = hashOnce();
  const plainCopy = sh(`cp -r ${dir} ${path.join(base, `floor-${tag}-1`)}`, base)!;
  const durableHash = hashOnce();
  const durableCopy = sh(`cp -r ${dir} ${path.join(base, `floor-${tag}-2`)} && sync`, base)!;
  // The copies stay until the end (see creationProbe): deleting them would slow the next floor.
  return { plain: plainHash + plainCopy, durable: durableHash + durableCopy };
}

/** One client kind: how it logs a folder and downloads a reference, each step timed. */
interface Mode {
  name: ModeName;
  help?(): Timing;
  /** Logs `dir` as bench/NAME; `immutable`: with policy "immutable". */
  put(dir: string, name: string, immutable?: boolean): Promise<Timing>;
  /** Downloads REF into ROOT; `skipCache`: with skip_cache, from a cache of its own that stays empty. */
  get(ref: string, root: string, skipCache?: boolean): Promise<Timing>;
  close(): Promise<void>;
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

async function sdkMode(server: ServerProcess, dir: string): Promise<Mode> {
  const producerCache = path.join(dir, 'cache-producer');
  const consumer = await Client.connect({ baseUrl: server.url, apiKey: server.apiKey, cacheDir: path.join(dir, 'cache-consumer'), env: {} });
  return {
    name: 'sdk',
    async put(folder, name, immutable) {
      // A new client per log, as a new process would have (stat cache loaded from disk).
      const client = await Client.connect({ baseUrl: server.url, apiKey: server.apiKey, cacheDir: producerCache, env: {} });
      try {
        settle();
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const a = new Artifact(name, 'dataset');
        await a.addDir(folder, immutable ? { policy: 'immutable' } : {});
        await a.log({ client, project: 'bench' });
        return { s: (performance.now() - t0) / 1000, cpu: cpuSeconds(c0), note: `${a.version}, ${client.statCache.hashed} hashed` };
      } finally {
        await client.close();
      }
    },
    async get(ref, root, skipCache) {
      const client = skipCache ? await Client.connect({ baseUrl: server.url, apiKey: server.apiKey, cacheDir: path.join(dir, 'cache-skip'), env: {} }) : consumer;
      settle();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const a = await new Api({ client }).artifact(ref);
      const r = await a.download({ root: path.join(dir, root), skipCache });
      if (skipCache) await client.close();
      return { s: (performance.now() - t0) / 1000, cpu: cpuSeconds(c0), note: `${r.fetched} fetched, ${r.fromCache} from cache, ${r.unchanged} unchanged` };
    },
    close: () => consumer.close(),
  };
}

function cliMode(server: ServerProcess, dir: string): Mode {
  const env = (cache: string) => ({ AMPHORA_BASE_URL: server.url, AMPHORA_API_KEY: server.apiKey, AMPHORA_CACHE_DIR: path.join(dir, cache) });
  // A CLI that has run before, as users run it: one command per cache dir first, so the V8 code
  // cache the CLI keeps there (src/cli/codeCache.ts) exists. Only a build's very first command
  // compiles without it.
  for (const cache of ['cache-producer', 'cache-consumer', 'cache-skip']) runProcess(process.execPath, [CLI, '--json', 'artifact', 'ls'], env(cache));
  return {
    name: 'cli',
    help() {
      const runs = [1, 2, 3].map(() => runProcess(process.execPath, [CLI, '--help'], {}));
      const best = runs.reduce((a, b) => (b.s < a.s ? b : a));
      return { s: best.s, cpu: best.cpu, note: 'best of 3' };
    },
    async put(folder, name, immutable) {
      const { s, cpu, out } = runProcess(process.execPath, [CLI, '--json', 'artifact', 'put', folder, '--name', `bench/${name}`, '--type', 'dataset', ...(immutable ? ['--policy', 'immutable'] : [])], env('cache-producer'));
      return { s, cpu, note: String(out.version) };
    },
    async get(ref, root, skipCache) {
      const { s, cpu, out } = runProcess(process.execPath, [CLI, '--json', 'artifact', 'get', ref, '--root', path.join(dir, root), ...(skipCache ? ['--skip-cache'] : [])], env(skipCache ? 'cache-skip' : 'cache-consumer'));
      return { s, cpu, note: `${out.fetched} fetched, ${out.fromCache} from cache, ${out.unchanged} unchanged` };
    },
    close: async () => {},
  };
}

const PY_PUT = `
import json, sys, amphora as wandb
with wandb.init(project="bench", job_type="bench") as run:
    a = wandb.Artifact(sys.argv[2], type="dataset")
    a.add_dir(sys.argv[1], policy=sys.argv[3])
    run.log_artifact(a)
print(json.dumps({"version": a.version, "uploaded": a.last_transfer.files_uploaded if a.last_transfer else None}))
`;
const PY_GET = `
import json, sys, amphora as wandb
a = wandb.Api().artifact(sys.argv[1])
a.download(sys.argv[2], skip_cache=sys.argv[3] == "skip")
t = a.last_transfer
print(json.dumps({"fetched": t.files_downloaded, "fromCache": t.cache_hits, "unchanged": t.already_present}))
`;

function pythonMode(server: ServerProcess, dir: string): Mode {
  const env = (cache: string) => ({ AMPHORA_BASE_URL: server.url, AMPHORA_API_KEY: server.apiKey, AMPHORA_CACHE_DIR: path.join(dir, cache), PYTHONPATH });
  return {
    name: 'python',
    async put(folder, name, immutable) {
      const { s, cpu, out } = runProcess(PYTHON, ['-c', PY_PUT, folder, name, immutable ? 'immutable' : 'mutable'], env('cache-producer'));
      return { s, cpu, note: String(out.version) };
    },
    async get(ref, root, skipCache) {
      const { s, cpu, out } = runProcess(PYTHON, ['-c', PY_GET, ref, path.join(dir, root), skipCache ? 'skip' : 'cache'], env(skipCache ? 'cache-skip' : 'cache-consumer'));
      return { s, cpu, note: `${out.fetched} fetched, ${out.fromCache} from cache, ${out.unchanged} unchanged` };
    },
    close: async () => {},
  };
}

/**
 * A data dir whose database is created but holds nothing yet: each mode's server starts on a copy
 * (creating a PGlite cluster takes seconds; copying one takes milliseconds).
 */
async function emptyDataDirTemplate(): Promise<string> {
  const dir = path.join(base, 'template-data');
  const server = await startServerProcess(dir);
  await server.stop();
  return dir;
}

/** Every scenario for one client kind, on its own empty server. */
async function runMode(name: ModeName, template: string): Promise<Map<Scenario, Timing>> {
  const dir = path.join(base, name);
  mkdirSync(dir);
  cpSync(template, path.join(dir, 'server-data'), { recursive: true });
  const server = await startServerProcess(path.join(dir, 'server-data'));
  const mode = name === 'sdk' ? await sdkMode(server, dir) : name === 'cli' ? cliMode(server, dir) : pythonMode(server, dir);
  const t = new Map<Scenario, Timing>();
  const step = async (s: Scenario, run: boolean, fn: () => Promise<Timing>) => {
    if (!run) return;
    log(`${name}: ${s}`);
    const probe = creationProbe();
    const server0 = processCpu(server.pid);
    const timing = await fn();
    t.set(s, { ...timing, serverCpu: processCpu(server.pid) - server0, probe });
  };
  try {
    if (mode.help) t.set('help', mode.help());
    await step('putLarge', doLarge, () => mode.put(large, 'large'));
    await step('putSmall', doSmall, () => mode.put(small, 'small'));
    await step('reputSmall', doSmall, () => mode.put(small, 'small'));
    await step('putLargeImmutable', doLarge, () => mode.put(largeImm, 'large-immutable', true));
    await step('putSmallImmutable', doSmall, () => mode.put(smallImm, 'small-immutable', true));
    await step('getLargeCold', doLarge, () => mode.get('bench/large:latest', 'dl-large-1'));
    await step('getLargeCached', doLarge, () => mode.get('bench/large:latest', 'dl-large-2'));
    await step('getSmallCold', doSmall, () => mode.get('bench/small:latest', 'dl-small-1'));
    await step('getSmallCached', doSmall, () => mode.get('bench/small:latest', 'dl-small-2'));
    await step('getSmallAgain', doSmall, () => mode.get('bench/small:latest', 'dl-small-2'));
    await step('getLargeSkipCache', doLarge, () => mode.get('bench/large:latest', 'dl-large-skip', true));
    await step('getSmallSkipCache', doSmall, () => mode.get('bench/small:latest', 'dl-small-skip', true));
  } finally {
    await mode.close();
    await server.stop();
    // Nothing is deleted before the end (see creationProbe): removing this mode's ~50,000 files
    // here made every file the next mode created several times dearer.
  }
  return t;
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

/** One table row: a scenario, its floor and the CLI target. */
interface RowSpec {
  scenario: Scenario;
  label: string;
  /** The floor the row is compared with (durable unless the scenario writes nothing durable). */
  floor?: number;
  plainFloor?: number;
  target: string;
  met(cli: number): boolean;
  peers?: { lfs?: number | string; annex?: number | string };
}

function fmtS(s: number | string | undefined): string {
  if (s === undefined || (typeof s === 'number' && Number.isNaN(s))) return '—';
  if (typeof s === 'string') return s;
  return s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`;
}

function printTable(head: string[], body: string[][]) {
  const all = [head, ...body];
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join(' | ');
  console.log(line(head));
  console.log(w.map((n) => '-'.repeat(n)).join('-|-'));
  for (const r of body) console.log(line(r));
}

async function main() {
  log(`generating ${largeLabel} and ${smallLabel} in ${base}`);
  generate(large, small, 0);
  generate(largeImm, smallImm, 1);
  const results = new Map<ModeName, Map<Scenario, Timing>>();
  try {
    const template = await emptyDataDirTemplate();
    for (const m of modeNames) results.set(m, await runMode(m, template));
    log('floors …');
    const fl = doLarge ? floors(large, 'large') : undefined;
    const fs = doSmall ? floors(small, 'small') : undefined;
    const nodeStart = Math.min(...[1, 2, 3].map(() => runProcess(process.execPath, ['-e', '0'], {}).s));
    let lfsL: { add?: number; readd?: number } = {};
    let lfsS: { add?: number; readd?: number } = {};
    let annexL: { add?: number; readd?: number } = {};
    let annexS: { add?: number; readd?: number } = {};
    const attempt = <T,>(what: string, fn: () => T, fallback: T): T => {
      try {
        return fn();
      } catch (e) {
        log(`${what} failed: ${(e as Error).message}`);
        return fallback;
      }
    };
    const haveLfs = peers && hasTool('git-lfs');
    const haveAnnex = peers && hasTool('git-annex');
    if (haveLfs) {
      log('git lfs …');
      if (doLarge) lfsL = attempt('git lfs (large)', () => gitLfs(large, path.join(base, 'lfs-large')), {});
      if (doSmall) lfsS = attempt('git lfs (small)', () => gitLfs(small, path.join(base, 'lfs-small')), {});
    }
    if (haveAnnex) {
      log('git annex …');
      if (doLarge) annexL = attempt('git annex (large)', () => gitAnnex(large, path.join(base, 'annex-large'), 600), {});
      if (doSmall) annexS = attempt('git annex (small)', () => gitAnnex(small, path.join(base, 'annex-small'), ANNEX_SMALL_LIMIT_S), {});
    }
    const peerCell = (have: boolean, v: number | undefined, limit?: number) => (!have ? 'skipped' : v ?? (limit ? `> ${limit} s` : '—'));

    const specs: RowSpec[] = [
      { scenario: 'help', label: '`amphora --help`', floor: nodeStart, target: '≤ 0.15 s', met: (s) => s <= 0.15 },
      { scenario: 'putLarge', label: `put ${largeLabel}`, floor: fl?.durable, plainFloor: fl?.plain, target: '≤ 1.3× durable floor', met: (s) => s <= 1.3 * fl!.durable, peers: { lfs: peerCell(haveLfs, lfsL.add), annex: peerCell(haveAnnex, annexL.add) } },
      { scenario: 'putSmall', label: `put ${smallLabel}`, floor: fs?.durable, plainFloor: fs?.plain, target: '≥ 5,000 files/s', met: (s) => SMALL_FILES / s >= 5000, peers: { lfs: peerCell(haveLfs, lfsS.add), annex: peerCell(haveAnnex, annexS.add, ANNEX_SMALL_LIMIT_S) } },
      { scenario: 'putLargeImmutable', label: `put ${largeLabel}, policy immutable`, floor: fl?.durable, plainFloor: fl?.plain, target: '≤ 1.3× durable floor', met: (s) => s <= 1.3 * fl!.durable },
      { scenario: 'putSmallImmutable', label: `put ${smallLabel}, policy immutable`, floor: fs?.durable, plainFloor: fs?.plain, target: '≥ 5,000 files/s', met: (s) => SMALL_FILES / s >= 5000 },
      { scenario: 'reputSmall', label: `re-put unchanged ${smallLabel}`, floor: fs?.plain, target: '< 0.5 s', met: (s) => s < 0.5, peers: { lfs: peerCell(haveLfs, lfsS.readd), annex: peerCell(haveAnnex, annexS.readd) } },
      { scenario: 'getLargeCold', label: `get ${largeLabel}, cold cache`, floor: fl?.durable, plainFloor: fl?.plain, target: '≤ 1.5× durable floor', met: (s) => s <= 1.5 * fl!.durable },
      { scenario: 'getLargeCached', label: `get ${largeLabel}, cached, new root`, floor: fl?.durable, plainFloor: fl?.plain, target: '≤ 1.3× durable floor', met: (s) => s <= 1.3 * fl!.durable },
      { scenario: 'getSmallCold', label: `get ${smallLabel}, cold cache`, floor: fs?.durable, plainFloor: fs?.plain, target: '≥ 5,000 files/s', met: (s) => SMALL_FILES / s >= 5000 },
      { scenario: 'getSmallCached', label: `get ${smallLabel}, cached, new root`, floor: fs?.durable, plainFloor: fs?.plain, target: '< 1 s', met: (s) => s < 1 },
      { scenario: 'getLargeSkipCache', label: `get ${largeLabel}, skip cache`, floor: fl?.durable, plainFloor: fl?.plain, target: '≤ 1.5× durable floor', met: (s) => s <= 1.5 * fl!.durable },
      { scenario: 'getSmallSkipCache', label: `get ${smallLabel}, skip cache`, floor: fs?.durable, plainFloor: fs?.plain, target: '≥ 5,000 files/s', met: (s) => SMALL_FILES / s >= 5000 },
      { scenario: 'getSmallAgain', label: `get ${smallLabel} again, same root`, floor: fs?.plain, target: '< 0.5 s', met: (s) => s < 0.5 },
    ];
    const shown = specs.filter((r) => [...results.values()].some((m) => m.has(r.scenario)));
    const cell = (m: ModeName, r: RowSpec) => {
      const t = results.get(m)?.get(r.scenario);
      if (!t) return '—';
      return quick && r.floor ? `${(t.s / r.floor).toFixed(2)}×` : fmtS(t.s);
    };
    const pyMet = (r: RowSpec) => {
      const py = results.get('python')?.get(r.scenario);
      const cli = results.get('cli')?.get(r.scenario);
      if (!py || !cli) return '—';
      return py.s <= 1.5 * cli.s ? 'yes' : 'NO';
    };
    const head = ['scenario', ...modeNames.map((m) => (m === 'sdk' ? 'sdk (in-process)' : m === 'cli' ? 'cli (process)' : 'python (process)')), 'target (cli)', 'met', 'python ≤ 1.5× cli', quick ? 'floor (s)' : 'durable floor', ...(quick ? [] : ['plain floor', 'git lfs', 'git annex']), 'notes (cli)'];
    const body = shown.map((r) => {
      const cli = results.get('cli')?.get(r.scenario);
      return [
        r.label,
        ...modeNames.map((m) => cell(m, r)),
        r.target,
        cli ? (r.met(cli.s) ? 'yes' : 'NO') : '—',
        pyMet(r),
        fmtS(r.floor),
        ...(quick ? [] : [fmtS(r.plainFloor), fmtS(r.peers?.lfs), fmtS(r.peers?.annex)]),
        cli ? `${fmtS(cli.s)}; cpu ${cli.cpu?.toFixed(2) ?? '?'} s + server ${cli.serverCpu?.toFixed(2) ?? '0'} s; ${cli.note ?? ''}${r.scenario === 'putSmall' || r.scenario === 'putSmallImmutable' || r.scenario === 'getSmallCold' || r.scenario === 'getSmallSkipCache' ? `; ${Math.round(SMALL_FILES / cli.s).toLocaleString('en')} files/s` : ''}${r.scenario.startsWith('putLarge') || r.scenario.startsWith('getLarge') ? `; ${(largeMiB / cli.s).toFixed(0)} MiB/s` : ''}` : '',
      ];
    });
    console.log(`\nAmphora transfer benchmark${quick ? ' (--quick: cells are × the floor; floor for --help is `node -e 0`, re-runs use the plain floor)' : ''} — ${new Date().toISOString()}, ${cpuList().length} cores, Node ${process.version}\n`);
    printTable(head, body);
    // CPU is what other load on a shared machine moves least: client + server seconds per step.
    const cpuCell = (m: ModeName, r: RowSpec) => {
      const t = results.get(m)?.get(r.scenario);
      return t?.cpu === undefined ? '—' : `${t.cpu.toFixed(2)} + ${(t.serverCpu ?? 0).toFixed(2)} s`;
    };
    console.log('\nCPU seconds, client + server (user + system):\n');
    printTable(['scenario', ...modeNames], shown.map((r) => [r.label, ...modeNames.map((m) => cpuCell(m, r))]));
    // The same file system can make a file creation 30× dearer from one minute to the next.
    const probeCell = (m: ModeName, r: RowSpec) => {
      const p = results.get(m)?.get(r.scenario)?.probe;
      return p === undefined ? '—' : `${Math.round(p * 1e6)} µs`;
    };
    console.log('\nSystem CPU per 4 KiB file creation just before each step (creationProbe; a fresh machine: ~30 µs):\n');
    printTable(['scenario', ...modeNames], shown.map((r) => [r.label, ...modeNames.map((m) => probeCell(m, r))]));
  } finally {
    // git-annex leaves read-only object folders behind; make them removable first.
    spawnSync('chmod', ['-R', 'u+w', base]);
    rmSync(base, { recursive: true, force: true, maxRetries: 5 });
  }
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
