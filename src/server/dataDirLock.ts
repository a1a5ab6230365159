import { closeSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { AmphoraError } from '../core/errors.js';
import { Discovery, DISCOVERY_FILE } from '../core/config.js';

const LOCK_FILE = 'server.lock';
/** Data dirs locked by this process (a second startServer in one process must fail too). */
const heldHere = new Set<string>();

interface LockInfo {
  pid: number;
  url?: string;
  startedAt: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * One server per data dir: PGlite's folder must be opened by one process only. The lock is a
 * file holding the owner's pid; a lock whose pid is gone (a SIGKILLed server) is stale and taken over.
 */
export class DataDirLock {
  private constructor(
    readonly dataDir: string,
    private readonly path: string,
    private info: LockInfo,
  ) {}

  static acquire(dataDir: string): DataDirLock {
    const path = join(dataDir, LOCK_FILE);
    const info: LockInfo = { pid: process.pid, startedAt: new Date().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o600);
        writeSync(fd, JSON.stringify(info));
        closeSync(fd);
        heldHere.add(dataDir);
        return new DataDirLock(dataDir, path, info);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const owner = readJson(path) as Partial<LockInfo> | undefined;
      const pid = typeof owner?.pid === 'number' ? owner.pid : undefined;
      const ownerIsLive = pid !== undefined && (pid === process.pid ? heldHere.has(dataDir) : alive(pid));
      if (ownerIsLive) {
        const disc = Discovery.safeParse(readJson(join(dataDir, DISCOVERY_FILE)));
        const url = owner?.url ?? (disc.success ? disc.data.url : undefined);
        throw new AmphoraError(
          'conflict',
          `The data dir ${dataDir} is already used by a running Amphora server${url ? ` at ${url}` : ''} (pid ${pid}). ` +
            `Connect to it (its URL and key are in ${join(dataDir, DISCOVERY_FILE)}), stop it, or start this one with another --data-dir.`,
        );
      }
      // Stale: its owner died without cleaning up (e.g. SIGKILL). Take it over.
      rmSync(path, { force: true });
    }
    throw new AmphoraError('conflict', `Could not take the lock ${path}; remove it if no Amphora server is running on ${dataDir}.`);
  }

  /** Records the URL once listening, so a second server can say where the first one is. */
  setUrl(url: string): void {
    this.info = { ...this.info, url };
    writeFileSync(this.path, JSON.stringify(this.info), { mode: 0o600 });
  }

  release(): void {
    heldHere.delete(this.dataDir);
    const owner = readJson(this.path) as Partial<LockInfo> | undefined;
    if (owner?.pid === process.pid) rmSync(this.path, { force: true });
  }
}
