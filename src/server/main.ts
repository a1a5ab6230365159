/**
 * Standalone server process: `node dist/server.mjs [--data-dir D] [--db URI] [--blobs URI] [--host H] [--port N]`.
 * Prints one JSON line {"event":"listening",url,dataDir,pid} when ready; exits cleanly on SIGTERM/SIGINT.
 * With --progress it first prints a {"event":"starting",step} line per start-up step (the editor
 * shows them); without it the listening line stays the only output, as scripts expect.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_PORT, defaultDataDir } from '../core/node/config.js';
import { isAmphoraError } from '../core/errors.js';
import { adminKeyNotice, startServer } from './index.js';

interface Flags {
  dataDir: string;
  db?: string;
  blobs?: string;
  host: string;
  port: number;
  logLevel?: string;
  heartbeatTimeoutMs?: number;
  team?: boolean;
  progress?: boolean;
}

const OPTIONS = {
  'data-dir': { type: 'string' },
  db: { type: 'string' },
  blobs: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'heartbeat-timeout-ms': { type: 'string' },
  'log-level': { type: 'string' },
  team: { type: 'boolean' },
  progress: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseOptions(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (e) {
    return usage((e as Error).message); // names the unknown option, the stray argument or the option missing its value
  }
}

function parseFlags(argv: string[]): Flags {
  const values = parseOptions(argv);
  if (values.help) {
    process.stdout.write(`${USAGE} [--log-level info] [--heartbeat-timeout-ms 60000] [--team] [--progress]\n`);
    process.exit(0);
  }
  const flags: Flags = {
    dataDir: values['data-dir'] ?? defaultDataDir(),
    db: values.db ?? (process.env.AMPHORA_DB_URL || undefined),
    blobs: values.blobs ?? (process.env.AMPHORA_BLOBS || undefined),
    host: values.host ?? '127.0.0.1',
    port: DEFAULT_PORT,
    logLevel: values['log-level'],
    team: values.team || undefined,
    progress: values.progress || undefined,
  };
  if (values.port !== undefined) {
    const p = Number(values.port);
    if (!Number.isInteger(p) || p < 0 || p > 65535) usage(`--port must be 0–65535 (0 = any free port)`);
    flags.port = p;
  }
  if (values['heartbeat-timeout-ms'] !== undefined) {
    const ms = Number(values['heartbeat-timeout-ms']);
    if (!Number.isInteger(ms) || ms < 100) usage('--heartbeat-timeout-ms must be a whole number ≥ 100');
    flags.heartbeatTimeoutMs = ms;
  }
  return flags;
}

const USAGE = 'Usage: node dist/server.mjs [--data-dir DIR | --db postgres://USER:PW@HOST:PORT/DB --blobs file:DIR] [--host 127.0.0.1] [--port 7411]';

function usage(msg: string): never {
  process.stderr.write(`amphora server: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const server = await startServer({
    dataDir: flags.dataDir,
    db: flags.db,
    blobs: flags.blobs,
    host: flags.host,
    port: flags.port,
    logLevel: flags.logLevel,
    heartbeatTimeoutMs: flags.heartbeatTimeoutMs,
    mode: flags.team ? 'team' : undefined,
    // One JSON line per step on stdout, like the "listening" line: the editor shows them while it waits.
    onProgress: flags.progress ? (step) => process.stdout.write(JSON.stringify({ event: 'starting', step }) + '\n') : undefined,
  });
  if (server.generatedAdminKey) process.stderr.write(adminKeyNotice(server.generatedAdminKey) + '\n');
  process.stdout.write(JSON.stringify({ event: 'listening', url: server.url, mode: server.mode, dataDir: server.dataDir, pid: process.pid }) + '\n');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    server.close().then(
      () => {
        process.stderr.write(`amphora server: stopped (${signal})\n`);
        process.exit(0);
      },
      (e: unknown) => {
        process.stderr.write(`amphora server: error while stopping: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  const msg = isAmphoraError(e) ? e.message : (e as Error)?.stack ?? String(e);
  process.stderr.write(`amphora server: ${msg}\n`);
  process.exit(isAmphoraError(e) && e.code === 'conflict' ? 3 : 1);
});
