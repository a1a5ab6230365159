/**
 * Small blobs of batch uploads kept in pack files of the local blob folder (`<root>/packs/<32
 * hex>.pack`, format in core/node/packFormat.ts) instead of one file each: creating a file costs
 * 20–200 µs here, several times writing its 4 KiB, and a batch of 4,000 small blobs becomes one
 * file. Each pack carries its own index; the server reads them all at start into memory (~72
 * bytes per packed blob: the 40-byte entry and PackTable's slots), so a lookup costs no syscall and no
 * database row.
 *
 * Only a server that is its folder's sole user (embedded, holding the data-dir lock) writes and
 * compacts packs: replicas sharing a folder would each hold their own idea of which packed blobs
 * are live. Replicas still read packs an embedded server left (a data dir moved to team mode).
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { mkdir, readdir, rename, rm, utimes } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { AmphoraError } from '../../core/errors.js';
import { ENTRY_BYTES, entryDigest, entryIs, entryOffset, entrySize, readAt, readPackIndex, TRAILER_BYTES, writePackSync } from '../../core/node/packFormat.js';
import { REPACK_BELOW_LIVE_SHARE } from './packBlobs.js';
import { PackTable } from '../../core/node/packTable.js';

const PACK_NAME = /^[0-9a-f]{32}\.pack$/;
const HEX64 = /^[0-9a-f]{64}$/;

export interface Pack {
  id: number;
  file: string;
  /** Bytes of blobs (the region before the index). */
  blobBytes: number;
  /** Last time one of its blobs was stored or wanted: GC's grace period counts from it for all of them. */
  mtimeMs: number;
  /** The pack's index (core/node/packFormat.ts): digest, offset and size of each entry. */
  index: Buffer;
  /** 1 for each entry the table points at: not a duplicate of a blob packed elsewhere, not forgotten by GC. */
  live: Uint8Array;
  liveCount: number;
  liveBytes: number;
}

export interface PackedBlob {
  pack: Pack;
  offset: number;
  size: number;
}

export class LocalPacks {
  readonly dir: string;
  /** By id; a deleted pack leaves a hole (ids are table slots' references). */
  private readonly byId: (Pack | undefined)[] = [];
  private readonly table = new PackTable((pack, entry, digest) => entryIs(this.byId[pack]!.index, entry, digest));

  constructor(
    root: string,
    private readonly tmpDir: string,
  ) {
    this.dir = join(root, 'packs');
  }

  get size(): number {
    return this.table.size;
  }

  /**
   * Reads every pack's index. A pack that fails its checks (torn by a power cut before the flush
   * that would have made it durable, or damaged since) is moved to `<root>/damaged/` and reported:
   * its blobs count as absent, so clients upload them again.
   */
  async load(): Promise<{ damaged: { file: string; why: string }[] }> {
    const damaged: { file: string; why: string }[] = [];
    for (const name of (await readdir(this.dir).catch(() => [] as string[])).sort()) {
      if (!PACK_NAME.test(name)) continue;
      const file = join(this.dir, name);
      const why = this.loadOne(file);
      if (why === undefined) continue;
      const aside = join(this.dir, '..', 'damaged');
      await mkdir(aside, { recursive: true, mode: 0o700 });
      await rename(file, join(aside, name)).catch(() => undefined);
      damaged.push({ file, why });
    }
    return { damaged };
  }

  /** Adds one pack's entries; returns why it is not a valid pack, or undefined. */
  private loadOne(file: string): string | undefined {
    const fd = openSync(file, 'r');
    try {
      const read = readPackIndex(fd);
      if (typeof read === 'string') return read;
      const pack = this.register(file, read.blobBytes, read.index, read.mtimeMs);
      for (let i = 0; i < read.index.length / ENTRY_BYTES; i++) this.adopt(pack, i);
      return undefined;
    } finally {
      closeSync(fd);
    }
  }

  private register(file: string, blobBytes: number, index: Buffer, mtimeMs: number): Pack {
    const count = index.length / ENTRY_BYTES;
    const pack: Pack = { id: this.byId.length, file, blobBytes, mtimeMs, index, live: new Uint8Array(count), liveCount: 0, liveBytes: 0 };
    this.byId.push(pack);
    return pack;
  }

  /** Points the table at entry `i`; a blob already packed elsewhere keeps its first place (the copy here is dead bytes). */
  private adopt(pack: Pack, i: number): boolean {
    if (!this.table.add(pack.index.subarray(i * ENTRY_BYTES, i * ENTRY_BYTES + 32), pack.id, i)) return false;
    pack.live[i] = 1;
    pack.liveCount++;
    pack.liveBytes += entrySize(pack.index, i);
    return true;
  }

  get(digest: string): PackedBlob | undefined {
    if (!this.table.size || !HEX64.test(digest)) return undefined;
    const at = this.table.find(Buffer.from(digest, 'hex'));
    if (!at) return undefined;
    const pack = this.byId[at.pack]!;
    return { pack, offset: entryOffset(pack.index, at.entry), size: entrySize(pack.index, at.entry) };
  }

  /**
   * Writes verified blobs as one new pack (temp file + rename: a pack under its name is whole) and
   * records them. Returns the pack's file (for the store's flush) and which blobs are new.
   */
  write(blobs: Map<string, Buffer>): { file: string; created: Map<string, boolean> } {
    const { pack } = this.writeFile(blobs);
    const created = new Map<string, boolean>();
    let i = 0;
    for (const digest of blobs.keys()) created.set(digest, this.adopt(pack, i++));
    return { file: pack.file, created };
  }

  private writeFile(blobs: Map<string, Buffer>): { pack: Pack } {
    const name = `${randomBytes(16).toString('hex')}.pack`;
    const tmp = `${this.tmpDir}${sep}${name}`;
    const file = `${this.dir}${sep}${name}`;
    let written: { index: Buffer; length: number };
    try {
      written = writePackSync(tmp, blobs, 0o600);
      try {
        renameSync(tmp, file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        // Made at init; again here only if someone removed it while the server ran.
        mkdirSync(this.dir, { recursive: true, mode: 0o700 });
        renameSync(tmp, file);
      }
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    return { pack: this.register(file, written.length - TRAILER_BYTES - written.index.length, written.index, Date.now()) };
  }

  /** A packed blob's bytes (plain syscalls). A pack shorter than its index says is an error, never short bytes. */
  read(digest: string): Buffer | undefined {
    const at = this.get(digest);
    if (!at) return undefined;
    const fd = openSync(at.pack.file, 'r');
    try {
      return readExactly(fd, at.offset, at.size, at.pack.file, digest);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Many blobs' bytes in the order asked, each pack opened once per call; blobs in no pack come
   * from `unpacked`. Synchronous from lookup to read, so a compaction (which rewrites and deletes
   * packs) cannot slip in between.
   */
  readMany(digests: string[], unpacked: (digest: string) => Buffer): Buffer[] {
    const fds = new Map<string, number>();
    try {
      return digests.map((d) => {
        const at = this.get(d);
        if (!at) return unpacked(d);
        let fd = fds.get(at.pack.file);
        if (fd === undefined) fds.set(at.pack.file, (fd = openSync(at.pack.file, 'r')));
        return readExactly(fd, at.offset, at.size, at.pack.file, d);
      });
    } finally {
      for (const fd of fds.values()) closeSync(fd);
    }
  }

  /** Opens a packed blob's pack for a stream (synchronously, for the same reason as readMany). */
  openFor(digest: string): { fd: number; offset: number; size: number } | undefined {
    const at = this.get(digest);
    return at ? { fd: openSync(at.pack.file, 'r'), offset: at.offset, size: at.size } : undefined;
  }

  /** GC's grace period starts again for the blob's whole pack. */
  async touch(digest: string): Promise<boolean> {
    const at = this.get(digest);
    if (!at) return false;
    const now = new Date();
    at.pack.mtimeMs = now.getTime();
    await utimes(at.pack.file, now, now).catch(() => undefined);
    return true;
  }

  *list(): Iterable<{ digest: string; size: number; mtimeMs: number }> {
    for (const pack of [...this.byId]) {
      if (!pack) continue;
      for (let i = 0; i < pack.live.length; i++) if (pack.live[i]) yield { digest: entryDigest(pack.index, i), size: entrySize(pack.index, i), mtimeMs: pack.mtimeMs };
    }
  }

  /** Forgets a blob (GC); its bytes go when its pack is deleted or rewritten (compact). */
  forget(digest: string): boolean {
    if (!this.table.size || !HEX64.test(digest)) return false;
    const raw = Buffer.from(digest, 'hex');
    const at = this.table.find(raw);
    if (!at) return false;
    this.table.delete(raw);
    const pack = this.byId[at.pack]!;
    pack.live[at.entry] = 0;
    pack.liveCount--;
    pack.liveBytes -= entrySize(pack.index, at.entry);
    return true;
  }

  /**
   * End of a GC sweep: deletes packs with no blob left and rewrites packs older than `olderThanMs`
   * with less than half of their bytes still wanted. A rewritten pack is fsynced, with its folder,
   * before the old one goes; `sync` makes a new pack durable.
   */
  async compact(olderThanMs: number, sync: (file: string, dir: string) => Promise<void>): Promise<{ deleted: number; rewritten: number; bytesReclaimed: number }> {
    const cutoff = Date.now() - olderThanMs;
    let deleted = 0;
    let rewritten = 0;
    let bytesReclaimed = 0;
    for (const pack of [...this.byId]) {
      if (!pack) continue;
      if (pack.liveCount === 0) {
        this.byId[pack.id] = undefined;
        await rm(pack.file, { force: true });
        deleted++;
        bytesReclaimed += pack.blobBytes;
      } else if (pack.liveBytes < pack.blobBytes * REPACK_BELOW_LIVE_SHARE && pack.mtimeMs < cutoff) {
        const fresh = await this.rewrite(pack, sync);
        rewritten++;
        bytesReclaimed += pack.blobBytes - fresh.blobBytes;
      }
    }
    return { deleted, rewritten, bytesReclaimed };
  }

  /** Copies a pack's live blobs (verified again) into a new pack, points the table there, then deletes the old one. */
  private async rewrite(old: Pack, sync: (file: string, dir: string) => Promise<void>): Promise<Pack> {
    const blobs = new Map<string, Buffer>();
    const fd = openSync(old.file, 'r');
    try {
      for (let i = 0; i < old.live.length; i++) {
        if (!old.live[i]) continue;
        const digest = entryDigest(old.index, i);
        const bytes = readExactly(fd, entryOffset(old.index, i), entrySize(old.index, i), old.file, digest);
        if (createHash('sha256').update(bytes).digest('hex') !== digest) {
          throw new AmphoraError('internal', `The bytes of blob ${digest} in ${old.file} do not hash to its digest: the stored copy is damaged, and the pack was left as it is. Restore the blob folder from a backup, or upload the files again.`);
        }
        blobs.set(digest, bytes);
      }
    } finally {
      closeSync(fd);
    }
    const { pack: fresh } = this.writeFile(blobs);
    // Nothing yields from here until the table points at the new pack and the old one is gone from it.
    for (let i = 0; i < fresh.live.length; i++) {
      this.table.move(fresh.index.subarray(i * ENTRY_BYTES, i * ENTRY_BYTES + 32), fresh.id, i);
      fresh.live[i] = 1;
      fresh.liveCount++;
      fresh.liveBytes += entrySize(fresh.index, i);
    }
    this.byId[old.id] = undefined;
    // The blobs keep their age: GC itself does not restart the grace period.
    fresh.mtimeMs = old.mtimeMs;
    await utimes(fresh.file, new Date(old.mtimeMs), new Date(old.mtimeMs)).catch(() => undefined);
    await sync(fresh.file, this.dir);
    await rm(old.file, { force: true });
    return fresh;
  }

  async ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }
}

function readExactly(fd: number, offset: number, size: number, file: string, digest: string): Buffer {
  const out = readAt(fd, offset, size);
  if (out.length !== size) {
    throw new AmphoraError('internal', `Pack ${file} ends before blob ${digest} (wanted ${size} bytes at ${offset}); it is damaged. Restore the blob folder from a backup, or upload the files again.`);
  }
  return out;
}
