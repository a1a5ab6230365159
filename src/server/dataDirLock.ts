import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, linkSync, openSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AmphoraError } from '../core/errors.js';
import { Discovery, DISCOVERY_FILE } from '../core/node/config.js';

const LOCK_FILE = 'server.lock';
/** Nested takeovers (a starter that died while taking over a dead server's lock, …) are rare. */
const MAX_TAKEOVER_DEPTH = 4;
/** Rounds of "someone else is taking over, look again" before giving up (~20 ms each). */
const MAX_ATTEMPTS = 250;
/** Data dirs locked by this process (a second startServer in one process must fail too). */
const heldHere = new Set<string>();

interface LockInfo {
  pid: number;
  url?: string;
  startedAt: string;
}

/** One concrete lock file: its inode and exact text identify it (a newer file differs in both). */
interface Instance {
  ino: number;
  text: string;
  pid?: number;
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

function readInstance(path: string): Instance | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const text = readFileSync(fd, 'utf8');
    const pid = (readJsonText(text) as Partial<LockInfo> | undefined)?.pid;
    return { ino: fstatSync(fd).ino, text, pid: Number.isSafeInteger(pid) && (pid as number) > 0 ? pid : undefined };
  } finally {
    closeSync(fd);
  }
}

function readJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Creates `path` with `text` only if it does not exist. The text is written to a private temp
 * file first and hard-linked into place, so the file is complete from its first instant: a
 * concurrent reader never sees an empty lock and mistakes it for a stale one.
 */
function createExclusive(path: string, text: string): boolean {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

type Outcome = { won: true } | { won: false; pid: number };

/**
 * Takes `path` exclusively, taking over a file whose owner is dead. Deleting a stale file is the
 * racy step (two starters read the same dead pid; one deletes and re-creates, the other must not
 * then delete the fresh file), so only the starter that created the takeover claim named after
 * that exact file instance may delete it, and it checks the file is still that instance first.
 * A claim whose creator died is itself taken over the same way, one level deeper.
 */
function takeExclusive(path: string, text: string, isLive: (pid: number) => boolean, depth: number): Outcome {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (createExclusive(path, text)) return { won: true };
    const current = readInstance(path);
    if (!current) continue; // removed meanwhile
    if (current.pid !== undefined && isLive(current.pid)) return { won: false, pid: current.pid };
    if (depth >= MAX_TAKEOVER_DEPTH) break;
    const claim = `${path}.takeover-${current.ino}-${createHash('sha256').update(current.text).digest('hex').slice(0, 16)}`;
    const claimed = takeExclusive(claim, text, (pid) => pid !== process.pid && alive(pid), depth + 1);
    if (!claimed.won) {
      pause(20); // another starter is taking this stale file over: look again when it is done
      continue;
    }
    try {
      const now = readInstance(path);
      if (now && now.ino === current.ino && now.text === current.text) unlinkSync(path);
    } finally {
      rmSync(claim, { force: true });
    }
  }
  throw new AmphoraError('conflict', `Could not take ${path}: other processes kept changing it. If no Amphora server is running on this data dir, delete ${path} and start again.`);
}

/**
 * One server per data dir: PGlite's folder must be opened by one process only. The lock is a
 * file holding the owner's pid; a lock whose pid is gone (a SIGKILLed server) is stale and taken
 * over atomically, so of several servers started at once on it exactly one wins.
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
    const outcome = takeExclusive(path, JSON.stringify(info), (pid) => (pid === process.pid ? heldHere.has(dataDir) : alive(pid)), 0);
    if (!outcome.won) {
      const owner = readJson(path) as Partial<LockInfo> | undefined;
      const disc = Discovery.safeParse(readJson(join(dataDir, DISCOVERY_FILE)));
      const url = owner?.url ?? (disc.success ? disc.data.url : undefined);
      throw new AmphoraError(
        'conflict',
        `The data dir ${dataDir} is already used by a running Amphora server${url ? ` at ${url}` : ''} (pid ${outcome.pid}). ` +
          `Connect to it (its URL and key are in ${join(dataDir, DISCOVERY_FILE)}), stop it, or start this one with another --data-dir.`,
      );
    }
    heldHere.add(dataDir);
    removeLeftovers(dataDir);
    return new DataDirLock(dataDir, path, info);
  }

  /** Records the URL once listening, so a second server can say where the first one is. */
  setUrl(url: string): void {
    this.info = { ...this.info, url };
    // Replaced whole (temp + rename): a starter reading it never sees a half-written lock.
    const tmp = `${this.path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.info), { mode: 0o600 });
    renameSync(tmp, this.path);
  }

  release(): void {
    heldHere.delete(this.dataDir);
    const owner = readJson(this.path) as Partial<LockInfo> | undefined;
    if (owner?.pid === process.pid) rmSync(this.path, { force: true });
  }
}

/** Temp and takeover files of starters that died mid-way; harmless, but tidied by the winner. */
function removeLeftovers(dataDir: string): void {
  for (const name of readdirSync(dataDir)) {
    if (!name.startsWith(`${LOCK_FILE}.`)) continue;
    const p = join(dataDir, name);
    const tmpOf = /\.(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name);
    const pid = tmpOf ? Number(tmpOf[1]) : readInstance(p)?.pid;
    if (pid === undefined || (pid !== process.pid && !alive(pid))) rmSync(p, { force: true });
  }
}
