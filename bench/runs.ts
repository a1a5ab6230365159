/**
 * Run history at scale: a cold `python` process logs STEPS steps × KEYS metrics with `log()` and
 * finishes the run (the whole process timed, import and interpreter start included), then the
 * metrics route answers for that run (first answer and the median of a few, all keys and one key,
 * plus a zoomed window), and GET /history reads every row back.
 *
 *   node esbuild.mjs && npx tsx bench/runs.ts [--steps 100000] [--keys 20] [--repeat 5]
 *   npm run bench:runs
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { startServerProcess } from './server-process.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const STEPS = arg('steps', 100_000);
const KEYS = arg('keys', 20);
const REPEAT = arg('repeat', 5);

const PY = `
import time
t0 = time.perf_counter()
import amphora as wandb, math, sys
steps, keys = int(sys.argv[1]), int(sys.argv[2])
names = ["m%02d" % k for k in range(keys)]
run = wandb.init(project="bench-runs", job_type="train")
t1 = time.perf_counter()
for s in range(steps):
    run.log({n: math.sin(s / 100.0 + k) for k, n in enumerate(names)})
t2 = time.perf_counter()
run.finish()
t3 = time.perf_counter()
import os
c = os.times()
print("import+init %.2f s, log loop %.2f s, finish (drain) %.2f s; CPU %.2f s (user %.2f + sys %.2f, all threads)" % (t1 - t0, t2 - t1, t3 - t2, c.user + c.system, c.user, c.system))
print(run.path)
`;

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const out = await fn();
  return [performance.now() - t, out];
}

/** User + system CPU seconds of a process so far (Linux /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'amphora-bench-runs-'));
  const server = await startServerProcess(dataDir);
  const rows: [string, string, string][] = [];
  try {
    const env = { ...process.env, PYTHONPATH: path.resolve('python'), AMPHORA_BASE_URL: server.url, AMPHORA_API_KEY: server.apiKey };
    const serverCpu0 = cpuSeconds(server.pid);
    const t0 = performance.now();
    const py = spawnSync('python3', ['-c', PY, String(STEPS), String(KEYS)], { env, encoding: 'utf8' });
    const logMs = performance.now() - t0;
    if (py.status !== 0) throw new Error(`python failed: ${py.stderr}`);
    const out = py.stdout.trim().split('\n');
    const [entity, project, runId] = out.pop()!.split('/');
    rows.push([`python log() ${STEPS.toLocaleString('en')} steps × ${KEYS} metrics, whole process`, `${(logMs / 1000).toFixed(2)} s`, 'target < 5 s']);
    rows.push(['  of which (inside Python)', out.pop() ?? '', `load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`]);
    rows.push(['  server CPU while it logged', `${(cpuSeconds(server.pid) - serverCpu0).toFixed(2)} s`, 'user + sys of the server process (judge changes by this under load)']);

    const headers = { authorization: `Bearer ${server.apiKey}` };
    const base = `${server.url}/api/v1/projects/${entity}/${project}/runs/${runId}`;
    const get = async (url: string) => {
      const res = await fetch(url, { headers });
      const body = await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${url}: ${res.status} ${Buffer.from(body).toString().slice(0, 300)}`);
      return body.byteLength;
    };
    const route = async (label: string, url: string) => {
      const [first, bytes] = await timed(() => get(url)).catch((e: Error) => [NaN, e.message] as const);
      if (typeof bytes === 'string') return void rows.push([label, 'failed', bytes.slice(bytes.lastIndexOf('/runs/'), 80)]);
      const times: number[] = [];
      const cpu0 = cpuSeconds(server.pid);
      for (let i = 0; i < REPEAT; i++) times.push((await timed(() => get(url)))[0]);
      const cpuMs = ((cpuSeconds(server.pid) - cpu0) * 1000) / REPEAT;
      rows.push([label, `${first.toFixed(0)} ms first, ${median(times).toFixed(0)} ms median of ${REPEAT}`, `${(bytes / 1024).toFixed(0)} KiB; server CPU ${cpuMs.toFixed(0)} ms per repeat`]);
    };
    await route('metrics: every key, 1,000 points each', `${base}/metrics`);
    await route('metrics: one key', `${base}/metrics?keys=m00`);
    await route('metrics: one key, zoom to 5% of steps', `${base}/metrics?keys=m00&min=${Math.floor(STEPS * 0.5)}&max=${Math.floor(STEPS * 0.55)}`);
    await route('metrics: one key over time', `${base}/metrics?keys=m00&x=time`);
    await route('history: every row (limit 100,000)', `${base}/history?limit=100000`);
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const w = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length), 8));
  console.log(`\n| ${'scenario'.padEnd(w[0])} | ${'time'.padEnd(w[1])} | ${'note'.padEnd(w[2])} |`);
  console.log(`|${'-'.repeat(w[0] + 2)}|${'-'.repeat(w[1] + 2)}|${'-'.repeat(w[2] + 2)}|`);
  for (const r of rows) console.log(`| ${r[0].padEnd(w[0])} | ${r[1].padEnd(w[1])} | ${r[2].padEnd(w[2])} |`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
