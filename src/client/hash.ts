/**
 * Streaming SHA-256 of files (never a whole large file in memory) and a stat cache so an unchanged
 * file is not hashed twice: keyed by absolute path, valid while size, mtime, inode and ctime match.
 * ctime matters because mtime can be set back (`touch -d`, `utimes`) after editing a file; the
 * kernel moves ctime on every change and nobody can set it.
 *
 * Stat cache layout: <cacheDir>/stat-cache/<2 hex>/<sha256(folder)>.json holding
 * {dir, entries: {basename: [size, mtimeMs, ino, digest, ctimeMs]}} — one small file per folder,
 * so a folder of 10,000 files loads with one read. Rows without ctime (older clients) never match.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { open, readFile, readdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

const SMALL = 512 * 1024;
const CHUNK = 1 << 20;

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of a file's bytes; reads with one reused 1 MiB buffer for large files. */
export async function hashFile(path: string, size?: number): Promise<{ digest: string; size: number; bytes?: Buffer }> {
  if (size !== undefined && size <= SMALL) {
    // One read of a small file is a consistent snapshot; callers may reuse the bytes for upload.
    // A plain syscall: fs/promises spends ~5× the CPU on open, fstat, read and close through
    // FileHandles, which for 10,000 small files is half a second.
    const buf = readFileSync(path);
    return { digest: sha256Hex(buf), size: buf.length, bytes: buf };
  }
  const fh = await open(path, 'r');
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    let total = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      h.update(bytesRead === CHUNK ? buf : buf.subarray(0, bytesRead));
      total += bytesRead;
    }
    return { digest: h.digest('hex'), size: total };
  } finally {
    await fh.close();
  }
}

type Row = [size: number, mtimeMs: number, ino: number, digest: string, ctimeMs: number];

/** The file state a row must match: everything a write, a rename over it or a chmod changes. */
function sameState(row: Row | undefined, st: Stats): boolean {
  return !!row && row[0] === st.size && row[1] === st.mtimeMs && row[2] === st.ino && row[4] === st.ctimeMs;
}

export class StatCache {
  private readonly folders = new Map<string, Promise<Map<string, Row>>>();
  private readonly dirty = new Set<string>();
  /** Stat-cache shard folders known to exist. */
  private readonly madeDirs = new Set<string>();
  /** Hashes done (not answered from the cache) — for tests and benchmarks. */
  hashed = 0;

  constructor(private readonly cacheDir: string) {}

  private fileFor(dir: string): string {
    const h = sha256Hex(dir);
    return join(this.cacheDir, 'stat-cache', h.slice(0, 2), `${h}.json`);
  }

  private folder(dir: string): Promise<Map<string, Row>> {
    let p = this.folders.get(dir);
    if (!p) {
      p = Promise.resolve(this.load(dir));
      this.folders.set(dir, p);
    }
    return p;
  }

  /** One folder's rows, by a plain read: through fs/promises the 100 folders of a 10,000-file dataset cost ~80 ms of CPU. */
  private load(dir: string): Map<string, Row> {
    try {
      const data = JSON.parse(readFileSync(this.fileFor(dir), 'utf8')) as { dir: string; entries: Record<string, Row> };
      return data.dir === dir ? new Map(Object.entries(data.entries)) : new Map<string, Row>();
    } catch {
      return new Map<string, Row>();
    }
  }

  /** The digest recorded for this exact file state, if any. */
  async lookup(absPath: string, st: Stats): Promise<string | undefined> {
    const row = (await this.folder(dirname(absPath))).get(basename(absPath));
    return sameState(row, st) ? row![3] : undefined;
  }

  async record(absPath: string, st: Stats, digest: string): Promise<void> {
    const dir = dirname(absPath);
    (await this.folder(dir)).set(basename(absPath), [st.size, st.mtimeMs, st.ino, digest, st.ctimeMs]);
    this.dirty.add(dir);
  }

  async forget(absPath: string): Promise<void> {
    const dir = dirname(absPath);
    if ((await this.folder(dir)).delete(basename(absPath))) this.dirty.add(dir);
  }

  /**
   * Re-records files whose only change since hashing is a new link (the cache's hard link moves
   * their ctime): otherwise logging would make the next log re-hash everything.
   */
  async refreshLinked(absPaths: Iterable<string>): Promise<void> {
    for (const abs of absPaths) {
      const row = (await this.folder(dirname(abs))).get(basename(abs));
      if (!row) continue;
      // Plain syscalls: a first log of 10,000 files adopts 10,000 (see BlobCache.copySmall).
      let st: Stats | undefined;
      try {
        st = statSync(abs);
      } catch {
        continue;
      }
      if (row[0] === st.size && row[1] === st.mtimeMs && row[2] === st.ino && row[4] !== st.ctimeMs) await this.record(abs, st, row[3]);
    }
  }

  /** Digest of a file, from the cache when its size, mtime, inode and ctime are unchanged. */
  async digest(path: string, st?: Stats): Promise<{ digest: string; size: number; stats: Stats; bytes?: Buffer; cached?: boolean }> {
    const abs = resolve(path);
    const s = st ?? (await stat(abs));
    const cached = await this.lookup(abs, s);
    if (cached) return { digest: cached, size: s.size, stats: s, cached: true };
    const { digest, size, bytes } = await hashFile(abs, s.size);
    this.hashed++;
    if (bytes) {
      // Read in one go: cache it when the bytes read match the size stat saw.
      if (size === s.size) await this.record(abs, s, digest);
      return { digest, size, stats: s, bytes };
    }
    // Re-stat: a file that changed while being hashed must not be cached under the new state.
    const after = await stat(abs);
    if (after.size === s.size && after.mtimeMs === s.mtimeMs && after.ino === s.ino && after.ctimeMs === s.ctimeMs && size === s.size) await this.record(abs, s, digest);
    return { digest, size, stats: s };
  }

  /** Writes changed folders (temp file + rename; a lost race only costs a re-hash later). */
  /**
   * Removes the rows of folders that no longer exist (a download root deleted, a checkout
   * moved): every download into a new root adds rows, which nothing else ever drops. Returns how
   * many folders' files were removed and their bytes.
   */
  async prune(): Promise<{ folders: number; bytes: number }> {
    const base = join(this.cacheDir, 'stat-cache');
    let folders = 0;
    let bytes = 0;
    for (const shard of await readdir(base).catch(() => [] as string[])) {
      for (const name of await readdir(join(base, shard)).catch(() => [] as string[])) {
        const file = join(base, shard, name);
        let dir: unknown;
        let size: number;
        try {
          size = (await stat(file)).size;
          dir = name.endsWith('.tmp') ? undefined : (JSON.parse(await readFile(file, 'utf8')) as { dir?: unknown }).dir;
        } catch {
          dir = undefined; // unreadable or torn: worth nothing
          size = 0;
        }
        if (typeof dir === 'string' && (await stat(dir).then((st) => st.isDirectory(), () => false))) continue;
        if (await unlink(file).then(() => true, () => false)) {
          folders++;
          bytes += size;
          if (typeof dir === 'string') this.folders.delete(dir);
        }
      }
    }
    return { folders, bytes };
  }

  async flush(): Promise<void> {
    const dirs = [...this.dirty];
    this.dirty.clear();
    // Plain syscalls: through fs/promises a download of 10,000 files (100 folders) spent more on
    // the mkdir, write and rename round trips than on the JSON.
    for (const dir of dirs) {
      const entries = Object.fromEntries(await this.folder(dir));
      const file = this.fileFor(dir);
      const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      const text = JSON.stringify({ dir, entries });
      for (let attempt = 0; ; attempt++) {
        try {
          if (!this.madeDirs.has(dirname(file))) {
            mkdirSync(dirname(file), { recursive: true });
            this.madeDirs.add(dirname(file));
          }
          writeFileSync(tmp, text);
          renameSync(tmp, file);
          break;
        } catch (e) {
          // The cache was deleted while this process ran: make its folder again, once.
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw e;
          this.madeDirs.delete(dirname(file));
        }
      }
    }
  }
}
