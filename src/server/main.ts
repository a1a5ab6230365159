/**
 * Standalone server process: `node dist/server.mjs [--data-dir D] [--db URI] [--blobs URI] [--host H] [--port N]`.
 * Prints one JSON line {"event":"listening",url,dataDir,pid} when ready; exits cleanly on SIGTERM/SIGINT.
 */
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
}

function parseFlags(argv: string[]): Flags {
  const flags: Flags = { dataDir: defaultDataDir(), db: process.env.AMPHORA_DB_URL || undefined, blobs: process.env.AMPHORA_BLOBS || undefined, host: '127.0.0.1', port: DEFAULT_PORT };
  for (let i = 0; i < argv.length; i++) {
    const [key, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) usage(`${key} needs a value`);
      return v;
    };
    switch (key) {
      case '--data-dir':
        flags.dataDir = value();
        break;
      case '--db':
        flags.db = value();
        break;
      case '--blobs':
        flags.blobs = value();
        break;
      case '--host':
        flags.host = value();
        break;
      case '--port': {
        const p = Number(value());
        if (!Number.isInteger(p) || p < 0 || p > 65535) usage(`--port must be 0–65535 (0 = any free port)`);
        flags.port = p;
        break;
      }
      case '--heartbeat-timeout-ms': {
        const ms = Number(value());
        if (!Number.isInteger(ms) || ms < 100) usage('--heartbeat-timeout-ms must be a whole number ≥ 100');
        flags.heartbeatTimeoutMs = ms;
        break;
      }
      case '--team':
        flags.team = true;
        break;
      case '--log-level':
        flags.logLevel = value();
        break;
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE} [--log-level info] [--heartbeat-timeout-ms 60000] [--team]\n`);
        process.exit(0);
        break;
      default:
        usage(`unknown option ${key}`);
    }
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
    onProgress: (step) => process.stdout.write(JSON.stringify({ event: 'starting', step }) + '\n'),
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
