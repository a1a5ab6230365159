/**
 * Small blobs of the download cache kept in pack files, `<cacheDir>/packs/<32 hex>.pack` (format in
 * core/node/packFormat.ts), instead of a file each. Creating a file costs 45–300 µs on this kind of
 * disk, ten times writing its 4 KiB: a put of 10,000 small files spent ~0.5 s making their cache
 * copies, and a cold download made a cache file and a root file for each. Now a put or a download
 * writes its small blobs as one pack when it ends.
 *
 * The Python client reads and writes the same packs (python/amphora/cache_packs.py). Packs are
 * written whole under a `.tmp` name and renamed, never changed, and deleted whole (eviction, or a
 * blob in them that fails its digest): a process that loaded a pack's index and finds the pack gone
 * counts its blobs as absent. Every read is verified by the caller against the digest, as for a
 * blob file.
 *
 * The index of every pack is read the first time a process asks about a small blob, never at start
 * (~72 bytes of memory per packed blob in PackTable, ~0.15 s for 200,000); each later operation
 * lists the folder once and reads only the indexes of new packs.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, utimesSync } from 'node:fs';
import { basename, join, sep } from 'node:path';
import { ENTRY_BYTES, entryDigest, entryIs, entryOffset, entrySize, readAt, readInto, readPackIndex, writePackSync } from '../core/node/packFormat.js';
import { PackTable } from '../core/node/packTable.js';

/** Blobs up to this size go into packs (the batch download's limit); larger ones stay files. */
export const PACKED_BLOB_MAX = 1 << 20;
/**
 * Bytes held for the next pack past which it is written without waiting for the operation's end:
 * bounds the memory a put or download of many small files holds (a pack per 16 MiB).
 */
const FLUSH_AT_BYTES = 16 << 20;
export const PACK_NAME = /^[0-9a-f]{32}\.pack$/;
const HEX64 = /^[0-9a-f]{64}$/;

interface CachePack {
  file: string;
  index: Buffer;
}

export class CachePacks {
  readonly dir: string;
  /** Whether the packs folder was listed since the operation began (see scan). */
  private scanned = false;
  /** Names of the packs whose indexes are in (or that were found damaged). */
  private readonly known = new Set<string>();
  /** By id (the table's pack numbers); a forgotten pack leaves a hole. */
  private readonly packs: (CachePack | undefined)[] = [];
  private readonly table = new PackTable((pack, entry, digest) => entryIs(this.packs[pack]!.index, entry, digest));
  /** Blobs for the next pack: readable by this process at once, by others once flushed. */
  private pending = new Map<string, Buffer>();
  private pendingBytes = 0;
  /** Packs opened by reads since the last settle(): a cached get of 10,000 blobs opens its pack once. */
  private readonly fds = new Map<number, number>();
  private scratch = Buffer.allocUnsafe(64 * 1024);
  /** Packs found damaged and deleted (tests observe this). */
  dropped = 0;

  constructor(cacheDir: string) {
    this.dir = join(cacheDir, 'packs');
  }

  /** Whether the blob is in a pack or waiting for the next one (no syscall once the indexes are in). */
  has(digest: string): boolean {
    return this.pending.has(digest) || this.find(digest) !== undefined;
  }

  /**
   * Holds a small blob's bytes (which hash to `digest`) for the next pack, unless packed already.
   * The bytes are copied: the caller's buffer may be a slice of a larger response chunk.
   */
  add(digest: string, bytes: Buffer): void {
    if (this.has(digest)) return;
    this.pending.set(digest, Buffer.from(bytes));
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= FLUSH_AT_BYTES) this.flush();
  }

  /**
   * A packed blob's bytes, unverified (the caller checks them against the digest and calls drop()
   * when they fail); undefined when it is in no pack, or its pack vanished or is cut short (then the
   * pack is forgotten, and deleted if still there). The buffer is valid until the next read: a
   * cached get of 10,000 blobs allocates nothing per blob.
   */
  read(digest: string): Buffer | undefined {
    const held = this.pending.get(digest);
    if (held) return held;
    const at = this.find(digest);
    if (!at) return undefined;
    const pack = this.packs[at.pack]!;
    const offset = entryOffset(pack.index, at.entry);
    const size = entrySize(pack.index, at.entry);
    try {
      let fd = this.fds.get(at.pack);
      if (fd === undefined) this.fds.set(at.pack, (fd = openSync(pack.file, 'r')));
      if (this.scratch.length < size) this.scratch = Buffer.allocUnsafe(Math.max(size, this.scratch.length * 2));
      const bytes = this.scratch.subarray(0, size);
      if (readInto(fd, bytes, offset) === size) return bytes;
      this.forget(at.pack, true);
    } catch {
      // Evicted by another process meanwhile (ENOENT), or unreadable now (EIO, EMFILE): forgotten
      // for this process, but not deleted, since nothing says its bytes are bad.
      this.forget(at.pack, false);
    }
    return undefined;
  }

  /** Deletes the pack holding `digest`, whose bytes failed their digest: its blobs are fetched again when wanted. */
  drop(digest: string): void {
    const held = this.pending.get(digest);
    if (held) {
      this.pending.delete(digest);
      this.pendingBytes -= held.length;
      return;
    }
    const at = this.find(digest);
    if (at) this.forget(at.pack, true);
  }

  /**
   * Writes the blobs held so far as one pack (temp file + rename: a pack under its name is whole).
   * Best effort, like every cache write: a cache that cannot take them costs a later download.
   */
  flush(): void {
    if (!this.pending.size) return;
    const blobs = this.pending;
    this.pending = new Map();
    this.pendingBytes = 0;
    const made = this.writePack(blobs);
    if (!made) return;
    this.known.add(basename(made.file));
    this.register(made.file, made.index);
  }

  /**
   * Writes `blobs` as a new pack (temp file + rename: a pack under its name is whole) from their own
   * buffers, no second copy in memory; its path and index, or undefined when the cache cannot take it.
   */
  private writePack(blobs: Map<string, Buffer>): { file: string; index: Buffer } | undefined {
    const file = `${this.dir}${sep}${randomBytes(16).toString('hex')}.pack`;
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      let index: Buffer;
      try {
        index = writePackSync(tmp, blobs).index;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        mkdirSync(this.dir, { recursive: true });
        index = writePackSync(tmp, blobs).index;
      }
      renameSync(tmp, file);
      return { file, index };
    } catch {
      unlinkQuietly(tmp);
      return undefined;
    }
  }

  /**
   * End of an operation: writes what is held, and closes the packs reads opened. The next operation
   * lists the folder again, so a long-lived process (the editor's) sees packs other processes wrote.
   */
  settle(): void {
    this.flush();
    this.scanned = false;
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }

  /**
   * Merges the packs smaller than 16 MiB into packs of about that size (`amphora cache cleanup`):
   * each operation adds a pack, and every process start reads the index of each. The blobs are
   * verified on the way (one that fails is left out), a blob in several packs is kept once, and a
   * merged pack keeps the latest use of its sources, so eviction still sees its age. A source is
   * deleted only once the pack holding its blobs is in place.
   */
  consolidate(): { merged: number; written: number } {
    const small = this.listSmallPacks();
    if (small.length < 2) return { merged: 0, written: 0 };
    let merged = 0;
    let written = 0;
    let blobs = new Map<string, Buffer>();
    let bytes = 0;
    let sources: string[] = [];
    let used = 0;
    const write = () => {
      // A pack alone is left as it is; a group of packs (or one whose every blob failed) is replaced.
      if (sources.length > 1 || (sources.length === 1 && blobs.size === 0)) {
        const made = blobs.size ? this.writePack(blobs) : undefined;
        if (made || !blobs.size) {
          if (made) {
            written++;
            try {
              utimesSync(made.file, new Date(used), new Date(used));
            } catch {
              /* evicted already */
            }
          }
          for (const f of sources) unlinkQuietly(f);
          merged += sources.length;
        }
      }
      blobs = new Map();
      bytes = 0;
      sources = [];
      used = 0;
    };
    for (const { file, used: at } of small) {
      let whole: Buffer;
      let read: ReturnType<typeof readPackIndex>;
      try {
        const fd = openSync(file, 'r');
        try {
          read = readPackIndex(fd);
          whole = typeof read === 'string' ? Buffer.alloc(0) : readAt(fd, 0, read.blobBytes);
        } finally {
          closeSync(fd);
        }
      } catch {
        continue; // evicted meanwhile, or unreadable: left alone
      }
      if (typeof read !== 'string') {
        for (let i = 0; i < read.index.length / ENTRY_BYTES; i++) {
          const digest = entryDigest(read.index, i);
          const blob = whole.subarray(entryOffset(read.index, i), entryOffset(read.index, i) + entrySize(read.index, i));
          if (blobs.has(digest) || createHash('sha256').update(blob).digest('hex') !== digest) continue;
          blobs.set(digest, blob);
          bytes += blob.length;
        }
      }
      sources.push(file);
      used = Math.max(used, at);
      if (bytes >= FLUSH_AT_BYTES) write();
    }
    write();
    // This process reads the folder afresh at its next question.
    this.reset();
    return { merged, written };
  }

  /** The packs under 16 MiB, least recently used first. */
  private listSmallPacks(): { file: string; used: number }[] {
    const out: { file: string; used: number }[] = [];
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return out;
    }
    for (const name of names) {
      if (!PACK_NAME.test(name)) continue;
      const file = join(this.dir, name);
      const st = statSync(file, { throwIfNoEntry: false });
      if (st && st.size < FLUSH_AT_BYTES) out.push({ file, used: Math.max(st.atimeMs, st.mtimeMs) });
    }
    return out.sort((a, b) => a.used - b.used);
  }

  /** Forgets every index read: the next question lists and reads the folder again. */
  private reset(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
    for (let id = 0; id < this.packs.length; id++) if (this.packs[id]) this.forget(id, false);
    this.known.clear();
    this.scanned = false;
  }

  private find(digest: string): { pack: number; entry: number } | undefined {
    this.scan();
    if (!this.table.size || !HEX64.test(digest)) return undefined;
    return this.table.find(Buffer.from(digest, 'hex'));
  }

  /**
   * Reads the index of every pack not known yet: all of them the first time, then once per
   * operation only the new ones (one listing). A pack that fails its checks is deleted.
   */
  private scan(): void {
    if (this.scanned) return;
    this.scanned = true;
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return; // no packs yet
    }
    for (const name of names.sort()) {
      if (!PACK_NAME.test(name) || this.known.has(name)) continue;
      const file = join(this.dir, name);
      let fd: number;
      try {
        fd = openSync(file, 'r');
      } catch {
        continue; // evicted meanwhile
      }
      try {
        const read = readPackIndex(fd);
        this.known.add(name);
        if (typeof read !== 'string') this.register(file, read.index);
        else {
          this.dropped++;
          unlinkQuietly(file);
        }
      } catch {
        // unreadable (EIO): leave it, its blobs count as absent
      } finally {
        closeSync(fd);
      }
    }
  }

  /** Adds a pack's entries; a blob packed already keeps its first place. */
  private register(file: string, index: Buffer): void {
    const id = this.packs.length;
    this.packs.push({ file, index });
    for (let i = 0; i < index.length / ENTRY_BYTES; i++) this.table.add(index.subarray(i * ENTRY_BYTES, i * ENTRY_BYTES + 32), id, i);
  }

  /** Takes a pack's entries out of the table (and deletes it when `damaged`). */
  private forget(id: number, damaged: boolean): void {
    const pack = this.packs[id];
    if (!pack) return;
    const fd = this.fds.get(id);
    if (fd !== undefined) {
      closeSync(fd);
      this.fds.delete(id);
    }
    for (let i = 0; i < pack.index.length / ENTRY_BYTES; i++) {
      const digest = pack.index.subarray(i * ENTRY_BYTES, i * ENTRY_BYTES + 32);
      const at = this.table.find(digest);
      if (at?.pack === id) this.table.delete(digest);
    }
    // Only now: the table's matcher reads the pack's index until its entries are gone.
    this.packs[id] = undefined;
    if (damaged) {
      this.dropped++;
      unlinkQuietly(pack.file);
    }
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* gone already */
  }
}
