import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HEARTBEAT_TIMEOUT_MS } from '../core/api.js';
import { AmphoraError } from '../core/errors.js';
import { buildApp } from './app.js';
import { LocalBlobStore } from './blobs/localBlobs.js';
import type { ServerContext } from './context.js';
import { loadOrCreateCredentials } from './credentials.js';
import { DataDirLock } from './dataDirLock.js';
import { removeDiscovery, writeDiscovery } from './discovery.js';
import { EventBus } from './events.js';
import { ArtifactService } from './services/artifacts.js';
import { LineageService } from './services/lineage.js';
import { RunService } from './services/runs.js';
import { PgliteDatabase } from './store/pglite.js';
import { SERVER_VERSION } from './version.js';

export interface StartServerOptions {
  dataDir: string;
  host?: string;
  port?: number;
  logLevel?: string;
  quiet?: boolean;
  heartbeatTimeoutMs?: number;
}

export interface RunningServer {
  url: string;
  apiKey: string;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * Starts the embedded tracking server on `dataDir`: takes the data-dir lock, opens PGlite and
 * the blob folder, listens, and publishes `<dataDir>/server.json` (mode 0600) for local clients.
 */
export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lock = DataDirLock.acquire(dataDir);
  let db: PgliteDatabase | undefined;
  try {
    const creds = loadOrCreateCredentials(dataDir);
    db = await PgliteDatabase.open(join(dataDir, 'db'));
    const blobs = new LocalBlobStore(join(dataDir, 'blobs'));
    await blobs.init();
    const events = new EventBus();
    const heartbeatTimeoutMs = opts.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
    const artifacts = new ArtifactService(db, blobs, events);
    const runs = new RunService(db, blobs, events, heartbeatTimeoutMs);
    const ctx: ServerContext = {
      dataDir,
      apiKey: creds.apiKey,
      entity: creds.entity,
      mode: 'embedded',
      db,
      blobs,
      events,
      artifacts,
      runs,
      lineage: new LineageService(db),
      sseKeepAliveMs: 15_000,
    };
    const app = await buildApp(ctx, opts);
    const host0 = opts.host ?? '127.0.0.1';
    const port0 = opts.port ?? 0;
    await app.listen({ host: host0, port: port0 }).catch(async (e: NodeJS.ErrnoException) => {
      await app.close().catch(() => undefined);
      if (e.code === 'EADDRINUSE') {
        throw new AmphoraError('conflict', `Port ${port0} on ${host0} is already in use by another program; start with --port 0 (any free port) or another --port.`);
      }
      if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') {
        throw new AmphoraError('invalid_request', `Cannot listen on host "${host0}" (${e.code}); use 127.0.0.1 or an address of this machine.`);
      }
      throw e;
    });
    const addr = app.server.address();
    if (!addr || typeof addr === 'string') throw new Error('server did not bind a TCP port');
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${addr.port}`;
    lock.setUrl(url);
    writeDiscovery(dataDir, { url, apiKey: creds.apiKey, pid: process.pid, dataDir, version: SERVER_VERSION, startedAt: new Date().toISOString() });

    // Runs that stop beating become crashed.
    const sweepEvery = Math.max(50, Math.min(heartbeatTimeoutMs / 3, 10_000));
    let sweeping = false;
    const sweeper = setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      runs
        .sweep()
        .catch(() => undefined)
        .finally(() => (sweeping = false));
    }, sweepEvery);
    sweeper.unref();

    let closing: Promise<void> | undefined;
    const openDb = db;
    return {
      url,
      apiKey: creds.apiKey,
      dataDir,
      close() {
        closing ??= (async () => {
          clearInterval(sweeper);
          removeDiscovery(dataDir);
          try {
            await app.close();
            await blobs.flush().catch(() => undefined);
            await openDb.close();
          } finally {
            lock.release();
          }
        })();
        return closing;
      },
    };
  } catch (e) {
    await db?.close().catch(() => undefined);
    lock.release();
    throw e;
  }
}
