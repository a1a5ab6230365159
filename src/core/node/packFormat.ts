/**
 * The file format of a pack: many small blobs back to back, then their index, then a trailer. The
 * pack carries its own index (as git's `.pack` + `.idx` pair does, in one file), so a folder of
 * packs needs no database row or file per blob: the embedded server's blob folder and the clients'
 * download cache (the Python client reads and writes the same format) read every pack's index.
 *
 *   [blob bytes …][entry × count][trailer]
 *   entry   = digest (32 bytes) · offset (u32 LE) · size (u32 LE)                      40 bytes
 *   trailer = magic "AMPHPK01" · count (u32 LE) · reserved (u32, 0) · SHA-256 of the entries   48 bytes
 *
 * A pack is written whole under a temp name and renamed into place, so a pack with a name is
 * complete unless the disk lost it (power cut before the flush); the entries' checksum and their
 * bounds catch that, and each blob's bytes are checked against its digest whenever they are copied.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, writevSync } from 'node:fs';

const MAGIC = Buffer.from('AMPHPK01', 'latin1');
export const ENTRY_BYTES = 40;
export const TRAILER_BYTES = 48;
/** Offsets are u32: a pack holds at most this many bytes of blobs. */
export const MAX_PACK_BLOB_BYTES = 0xffff_ffff;

/**
 * Creates `file` exclusively (`mode` when given) holding a pack of `blobs` in order (digest →
 * bytes, digests already verified), written from the blobs' own buffers with writev: no second
 * copy of the pack in memory. Returns the pack's index and length; on failure the caller removes
 * `file`.
 */
export function writePackSync(file: string, blobs: Map<string, Buffer>, mode?: number): { index: Buffer; length: number } {
  const index = Buffer.alloc(blobs.size * ENTRY_BYTES);
  let at = 0;
  let o = 0;
  for (const [digest, b] of blobs) {
    index.write(digest, o, 32, 'hex');
    index.writeUInt32LE(at, o + 32);
    index.writeUInt32LE(b.length, o + 36);
    at += b.length;
    o += ENTRY_BYTES;
  }
  if (at > MAX_PACK_BLOB_BYTES) throw new Error(`writePackSync: ${at} bytes of blobs is over a pack's ${MAX_PACK_BLOB_BYTES}`);
  const trailer = Buffer.alloc(TRAILER_BYTES);
  MAGIC.copy(trailer, 0);
  trailer.writeUInt32LE(blobs.size, 8);
  createHash('sha256').update(index).digest().copy(trailer, 16);
  const fd = openSync(file, 'wx', mode);
  try {
    writeAllSync(fd, [...blobs.values(), index, trailer]);
  } finally {
    closeSync(fd);
  }
  return { index, length: at + index.length + TRAILER_BYTES };
}

/** Writes `parts` in order to `fd` with writev, up to 1,024 buffers a call (IOV_MAX), resuming after short writes. */
function writeAllSync(fd: number, parts: Buffer[]): void {
  const left = parts.filter((p) => p.length > 0);
  let i = 0;
  while (i < left.length) {
    let n = writevSync(fd, left.slice(i, i + 1024));
    while (n > 0 && i < left.length) {
      if (n >= left[i].length) n -= left[i++].length;
      else {
        left[i] = left[i].subarray(n);
        n = 0;
      }
    }
  }
}

/** How many entries a pack of `fileSize` bytes ending in `trailer` has, or why it is not a pack. */
export function readTrailer(trailer: Buffer, fileSize: number): { count: number; entriesAt: number; checksum: Buffer } | string {
  if (fileSize < TRAILER_BYTES || trailer.length !== TRAILER_BYTES) return `${fileSize} bytes is shorter than a pack's trailer`;
  if (!trailer.subarray(0, 8).equals(MAGIC)) return 'its trailer lacks the pack signature';
  const count = trailer.readUInt32LE(8);
  const entriesAt = fileSize - TRAILER_BYTES - count * ENTRY_BYTES;
  if (entriesAt < 0) return `its trailer claims ${count} entries, more than its ${fileSize} bytes hold`;
  return { count, entriesAt, checksum: trailer.subarray(16, 48) };
}

/** Why a pack's index is not to be trusted (its trailer's checksum, an entry past the blob region), or undefined. */
export function checkIndex(index: Buffer, checksum: Buffer, blobBytes: number): string | undefined {
  if (!createHash('sha256').update(index).digest().equals(checksum)) return 'its index does not match the checksum in its trailer';
  for (let o = 0; o < index.length; o += ENTRY_BYTES) {
    const end = entryOffset(index, o / ENTRY_BYTES) + entrySize(index, o / ENTRY_BYTES);
    if (end > blobBytes) return `entry ${o / ENTRY_BYTES} (blob ${entryDigest(index, o / ENTRY_BYTES)}) ends at byte ${end}, past the pack's ${blobBytes} bytes of blobs`;
  }
  return undefined;
}

export const entryDigest = (index: Buffer, i: number): string => index.toString('hex', i * ENTRY_BYTES, i * ENTRY_BYTES + 32);
export const entryOffset = (index: Buffer, i: number): number => index.readUInt32LE(i * ENTRY_BYTES + 32);
export const entrySize = (index: Buffer, i: number): number => index.readUInt32LE(i * ENTRY_BYTES + 36);
/** Whether entry `i` is the blob with these 32 raw digest bytes (no allocation). */
export const entryIs = (index: Buffer, i: number, digest: Buffer): boolean => index.compare(digest, 0, 32, i * ENTRY_BYTES, i * ENTRY_BYTES + 32) === 0;

/**
 * Reads and checks the index of the pack open at `fd`: its bytes of blobs, its entries and its
 * mtime, or why it is not a pack to trust.
 */
export function readPackIndex(fd: number): { blobBytes: number; index: Buffer; mtimeMs: number } | string {
  const st = fstatSync(fd);
  const t = readTrailer(readAt(fd, st.size - TRAILER_BYTES, Math.min(TRAILER_BYTES, st.size)), st.size);
  if (typeof t === 'string') return t;
  const index = readAt(fd, t.entriesAt, st.size - TRAILER_BYTES - t.entriesAt);
  return checkIndex(index, t.checksum, t.entriesAt) ?? { blobBytes: t.entriesAt, index, mtimeMs: st.mtimeMs };
}

/** Up to `length` bytes at `position` (fewer only at the end of the file). */
export function readAt(fd: number, position: number, length: number): Buffer {
  const out = Buffer.alloc(Math.max(0, length));
  const got = readInto(fd, out, position);
  return got === out.length ? out : out.subarray(0, got);
}

/** Fills `into` from `position` on; returns how many bytes came (fewer only at the end of the file). */
export function readInto(fd: number, into: Buffer, position: number): number {
  let at = 0;
  while (at < into.length) {
    const n = readSync(fd, into, at, into.length - at, position + at);
    if (n === 0) break;
    at += n;
  }
  return at;
}
