import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { HEARTBEAT_TIMEOUT_MS } from '../core/api.js';
import { AmphoraError } from '../core/errors.js';
import { buildApp } from './app.js';
import { openBackend, parseBlobsUri, parseDbUri, type Backend } from './backend.js';
import type { ServerContext } from './context.js';
import { loadOrCreateCredentials } from './credentials.js';
import { DataDirLock } from './dataDirLock.js';
import { removeDiscovery, writeDiscovery } from './discovery.js';
import { allowedHostsFromEnv } from './hostCheck.js';
import { makeDataDirPrivate, usePrivateUmask } from './privateDataDir.js';
import { ArtifactService } from './services/artifacts.js';
import { LineageService } from './services/lineage.js';
import { RunService } from './services/runs.js';
import { teamCredentials } from './teamCredentials.js';
import { SERVER_VERSION } from './version.js';

export interface StartServerOptions {
  /** Embedded mode's folder (PGlite, blobs, key, discovery file); unused by a team server. */
  dataDir?: string;
  /** `postgres://…` (team server) or `pglite:DIR`; default `<dataDir>/db`. */
  db?: string;
  /** `file:DIR`; default `<dataDir>/blobs`. */
  blobs?: string;
  host?: string;
  port?: number;
  logLevel?: string;
  quiet?: boolean;
  heartbeatTimeoutMs?: number;
  /** Host names a loopback-bound server answers besides loopback ones (default: AMPHORA_ALLOWED_HOSTS). */
  allowedHosts?: string[];
}

export interface RunningServer {
  url: string;
  apiKey: string;
  mode: 'embedded' | 'team';
  /** Embedded mode only. */
  dataDir?: string;
  close(): Promise<void>;
}

/**
 * Starts a tracking server. Embedded (default): takes the data-dir lock, opens PGlite and the
 * blob folder, listens, and publishes `<dataDir>/server.json` (mode 0600) for local clients.
 * Team (`db` is a postgres:// URL): one of possibly several replicas on a shared database and
 * blob store; it keeps nothing of its own, so no lock and no discovery file.
 */
export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  const givenDir = opts.dataDir ? resolve(opts.dataDir) : undefined;
  const dbLoc = parseDbUri(opts.db, givenDir);
  const team = dbLoc.kind === 'postgres';
  const dataDir = team ? undefined : givenDir;
  if (!team && !dataDir) throw new AmphoraError('invalid_request', 'An embedded server needs a data dir (--data-dir or AMPHORA_DATA_DIR) for its key and discovery file.');
  const blobLoc = parseBlobsUri(opts.blobs, dataDir);
  const creds = team ? teamCredentials() : undefined;
  let lock: DataDirLock | undefined;
  if (dataDir) {
    // This process's files (PGlite's among them, and the initdb child's) are owner-only.
    usePrivateUmask();
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    lock = DataDirLock.acquire(dataDir);
  }
  let backend: Backend | undefined;
  try {
    if (dataDir) makeDataDirPrivate(dataDir);
    const { apiKey, entity } = creds ?? loadOrCreateCredentials(dataDir!);
    backend = await openBackend(dbLoc, blobLoc);
    const { db, blobs, events } = backend;
    const heartbeatTimeoutMs = opts.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
    const artifacts = new ArtifactService(db, blobs, events);
    const runs = new RunService(db, blobs, events, heartbeatTimeoutMs);
    const ctx: ServerContext = {
      dataDir,
      apiKey,
      entity,
      mode: backend.mode,
      db,
      blobs,
      events,
      artifacts,
      runs,
      lineage: new LineageService(db),
      sseKeepAliveMs: 15_000,
    };
    const host0 = opts.host ?? '127.0.0.1';
    const app = await buildApp(ctx, { ...opts, host: host0, allowedHosts: opts.allowedHosts ?? allowedHostsFromEnv() });
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
    if (dataDir) {
      lock!.setUrl(url);
      writeDiscovery(dataDir, { url, apiKey, pid: process.pid, dataDir, version: SERVER_VERSION, startedAt: new Date().toISOString() });
    }

    // Runs that stop beating become crashed. With several replicas each sweeps: the UPDATE is
    // idempotent (a row already crashed no longer matches), so each run crashes once.
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
    const open = backend;
    return {
      url,
      apiKey,
      mode: backend.mode,
      dataDir,
      close() {
        closing ??= (async () => {
          clearInterval(sweeper);
          if (dataDir) removeDiscovery(dataDir);
          try {
            await app.close();
            await open.close();
          } finally {
            lock?.release();
          }
        })();
        return closing;
      },
    };
  } catch (e) {
    await backend?.close().catch(() => undefined);
    lock?.release();
    throw e;
  }
}
