/**
 * Starts the bundled server (dist/server.mjs) with VS Code's own Node runtime
 * (`process.execPath` + ELECTRON_RUN_AS_NODE=1), so users need no separate Node install. The
 * server writes the discovery file, so terminal pipelines find the same store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { AmphoraError } from '../../core/errors.js';
import { parseListeningLine } from '../logic/events.js';

export interface EmbeddedServer {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startEmbeddedServer(opts: {
  serverScript: string;
  dataDir: string;
  /** 0 = any free port. */
  port?: number;
  log: (line: string) => void;
  onExit: (code: number | null, signal: NodeJS.Signals | null) => void;
  timeoutMs?: number;
}): Promise<EmbeddedServer> {
  if (!existsSync(opts.serverScript)) {
    throw new AmphoraError('server_unreachable', `The bundled server is missing at ${opts.serverScript}; reinstall the Amphora extension.`);
  }
  const child = spawn(process.execPath, [opts.serverScript, '--data-dir', opts.dataDir, '--host', '127.0.0.1', ...(opts.port !== undefined ? ['--port', String(opts.port)] : [])], {
    // The editor's server is the embedded one even when the user's shell configures a team
    // server (AMPHORA_DB_URL / AMPHORA_BLOBS are read by `amphora serve` as --db / --blobs).
    env: { ...process.env, AMPHORA_DB_URL: undefined, AMPHORA_BLOBS: undefined, ELECTRON_RUN_AS_NODE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    windowsHide: true,
  });
  opts.log(`starting the bundled server: ${process.execPath} ${opts.serverScript} --data-dir ${opts.dataDir} (pid ${child.pid})`);
  const stderr = createInterface({ input: child.stderr! });
  stderr.on('line', (l) => opts.log(l));
  const stdout = createInterface({ input: child.stdout! });

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new AmphoraError('server_unreachable', `The bundled server did not start within ${Math.round((opts.timeoutMs ?? 30_000) / 1000)} s; see the "Amphora" output channel for its log.`));
    }, opts.timeoutMs ?? 30_000);
    stdout.on('line', (line) => {
      opts.log(line);
      const listening = parseListeningLine(line);
      if (listening) {
        clearTimeout(timer);
        resolve(listening.url);
      }
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new AmphoraError('server_unreachable', `Could not start the bundled server: ${e.message}.`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new AmphoraError('server_unreachable', `The bundled server exited during start-up (code ${code}, signal ${signal}); see the "Amphora" output channel for its log.`));
    });
  });
  child.on('exit', (code, signal) => {
    opts.log(`the bundled server exited (code ${code}, signal ${signal})`);
    opts.onExit(code, signal);
  });
  return {
    url,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
