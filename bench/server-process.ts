/** Runs the bundled server (dist/server.mjs) as its own process, as users and the extension do. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface ServerProcess {
  url: string;
  apiKey: string;
  pid: number;
  child: ChildProcess;
  /** Resident set size in KiB (VmRSS from /proc). */
  rssKiB(): number;
  stop(): Promise<void>;
}

export async function startServerProcess(dataDir: string, opts: { args?: string[]; env?: Record<string, string> } = {}): Promise<ServerProcess> {
  const entry = path.resolve('dist/server.mjs');
  // BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server process.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, entry, '--data-dir', dataDir, '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn', ...(opts.args ?? [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...opts.env },
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error('server did not start within 180 s')), 180_000);
    // Start-up steps ({"event":"starting"}) come first; the listening line names the URL.
    rl.on('line', (l) => {
      if (!l.includes('"listening"')) return;
      rl.removeAllListeners('line');
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening (run \`node esbuild.mjs\` first?)`)));
  });
  const info = JSON.parse(line) as { url: string; pid: number };
  // A team server (--team) publishes no key: its site admin key is the bootstrap key it was given.
  const team = opts.args?.includes('--team');
  if (team && !opts.env?.AMPHORA_BOOTSTRAP_KEY) throw new Error('startServerProcess: a --team server needs env.AMPHORA_BOOTSTRAP_KEY (the benchmark must know the admin key)');
  const apiKey = team ? opts.env!.AMPHORA_BOOTSTRAP_KEY : (JSON.parse(readFileSync(path.join(dataDir, 'server.json'), 'utf8')) as { apiKey: string }).apiKey;
  return {
    url: info.url,
    apiKey,
    pid: child.pid!,
    child,
    rssKiB() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    },
    stop() {
      return new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.kill('SIGTERM');
      });
    },
  };
}
