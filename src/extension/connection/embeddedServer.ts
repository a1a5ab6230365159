/**
 * Starts the bundled server (dist/server.mjs) with VS Code's own Node runtime
 * (`process.execPath` + ELECTRON_RUN_AS_NODE=1), so users need no separate Node install. The
 * server writes the discovery file, so terminal pipelines find the same store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { AmphoraError } from '../../core/errors.js';
import { parseListeningLine, parseStartingLine } from '../logic/events.js';

export interface EmbeddedServer {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** How long a start may take at most while the process lives (a first start runs initdb). */
export const START_CEILING_MS = 10 * 60_000;
/** Lines of the server's error output kept to say why a start failed. */
const TAIL_LINES = 5;

export async function startEmbeddedServer(opts: {
  serverScript: string;
  dataDir: string;
  /** 0 = any free port. */
  port?: number;
  log: (line: string) => void;
  onExit: (code: number | null, signal: NodeJS.Signals | null) => void;
  /** Each start-up step the server announces ("creating the database …"). */
  onProgress?: (step: string) => void;
  /** Stops waiting and stops the process (the user pressed Cancel). */
  signal?: AbortSignal;
  /** Gives up after this long even though the process lives (default START_CEILING_MS). */
  ceilingMs?: number;
}): Promise<EmbeddedServer> {
  if (!existsSync(opts.serverScript)) {
    throw new AmphoraError('server_unreachable', `The bundled server is missing at ${opts.serverScript}; reinstall the Amphora extension.`);
  }
  if (opts.signal?.aborted) throw new AmphoraError('server_unreachable', 'Starting the bundled server was cancelled.');
  const child = spawn(process.execPath, [opts.serverScript, '--data-dir', opts.dataDir, '--host', '127.0.0.1', '--progress', ...(opts.port !== undefined ? ['--port', String(opts.port)] : [])], {
    // The editor's server is the embedded one even when the user's shell configures a team
    // server (AMPHORA_DB_URL / AMPHORA_BLOBS are read by `amphora serve` as --db / --blobs).
    env: { ...process.env, AMPHORA_DB_URL: undefined, AMPHORA_BLOBS: undefined, ELECTRON_RUN_AS_NODE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    windowsHide: true,
  });
  opts.log(`starting the bundled server: ${process.execPath} ${opts.serverScript} --data-dir ${opts.dataDir} (pid ${child.pid})`);
  const tail: string[] = [];
  const stderr = createInterface({ input: child.stderr! });
  stderr.on('line', (l) => {
    opts.log(l);
    tail.push(l);
    if (tail.length > TAIL_LINES) tail.shift();
  });
  const stdout = createInterface({ input: child.stdout! });
  const ceilingMs = opts.ceilingMs ?? START_CEILING_MS;

  // No fixed time-out: the server says when it is ready (or exits saying why); a first start's
  // initdb may take minutes on a loaded machine. Only the ceiling or Cancel stop the wait.
  const url = await new Promise<string>((resolve, reject) => {
    const stopWaiting = (message: string) => {
      done();
      child.kill('SIGTERM');
      reject(new AmphoraError('server_unreachable', message));
    };
    const timer = setTimeout(() => stopWaiting(`The bundled server was still not ready after ${ceilingMs >= 120_000 ? `${Math.round(ceilingMs / 60_000)} min` : `${Math.round(ceilingMs / 1000)} s`}, so it was stopped; see the "Amphora" output channel for its log, then run "Amphora: Reconnect".`), ceilingMs);
    const onAbort = () => stopWaiting('Starting the bundled server was cancelled; run "Amphora: Reconnect" to start it again.');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    stdout.on('line', (line) => {
      opts.log(line);
      const step = parseStartingLine(line);
      if (step) opts.onProgress?.(step);
      const listening = parseListeningLine(line);
      if (listening) {
        done();
        resolve(listening.url);
      }
    });
    child.once('error', (e) => {
      done();
      reject(new AmphoraError('server_unreachable', `Could not start the bundled server: ${e.message}.`));
    });
    child.once('exit', (code, signal) => {
      done();
      // The reason is in the last lines the server wrote (its own message for a refused data dir, a used port, …).
      const why = tail.map((l) => l.replace(/^amphora server: /, '')).join(' ').trim();
      reject(new AmphoraError('server_unreachable', `The bundled server exited during start-up (${signal ? `signal ${signal}` : `exit code ${code}`})${why ? `: ${why}` : ''}. Its full log is in the "Amphora" output channel.`));
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
