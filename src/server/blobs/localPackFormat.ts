/**
 * The file format of a local pack: many small blobs back to back, then their index, then a
 * trailer. The pack carries its own index (as git's `.pack` + `.idx` pair does, in one file), so
 * the blob folder needs no database row per blob: a server reads every pack's index at start.
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

const MAGIC = Buffer.from('AMPHPK01', 'latin1');
export const ENTRY_BYTES = 40;
export const TRAILER_BYTES = 48;
/** Offsets are u32: a pack holds at most this many bytes of blobs. */
export const MAX_PACK_BLOB_BYTES = 0xffff_ffff;

/** The bytes of a pack holding `blobs` in order (digest → bytes, digests already verified), and its index. */
export function encodePack(blobs: Map<string, Buffer>): { bytes: Buffer; index: Buffer } {
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
  if (at > MAX_PACK_BLOB_BYTES) throw new Error(`encodePack: ${at} bytes of blobs is over a pack's ${MAX_PACK_BLOB_BYTES}`);
  const trailer = Buffer.alloc(TRAILER_BYTES);
  MAGIC.copy(trailer, 0);
  trailer.writeUInt32LE(blobs.size, 8);
  createHash('sha256').update(index).digest().copy(trailer, 16);
  return { bytes: Buffer.concat([...blobs.values(), index, trailer], at + index.length + TRAILER_BYTES), index };
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
