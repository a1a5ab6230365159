/**
 * Planning reads of small blobs stored in packs: blobs that sit close together in one pack are
 * fetched with one ranged GET, so a batch download of 1,000 small files costs a handful of store
 * requests instead of 1,000.
 */

/** Where a stored blob's bytes are: a pack object and an offset in it, or its own object. */
export interface BlobLocation {
  size: number;
  pack?: { key: string; offset: number };
}

/** One store request: a byte range of a pack (or a whole single-blob object) and the blobs in it. */
export interface ReadSegment {
  /** Pack key, or undefined for a blob stored as its own object. */
  packKey?: string;
  start: number;
  /** Exclusive. */
  end: number;
  /** Indexes into the requested list, each with its offset inside this segment's bytes. */
  members: { index: number; at: number; size: number }[];
}

/** Unrequested bytes one ranged GET may carry between two wanted blobs of a pack. */
export const MAX_GAP_BYTES = 64 * 1024;
/** Largest ranged GET (keeps memory per download bounded). */
export const MAX_SEGMENT_BYTES = 8 << 20;

/**
 * Groups the requested blobs (in any order) into segments: per pack sorted by offset, merged while
 * the gap is at most `MAX_GAP_BYTES` and the segment at most `MAX_SEGMENT_BYTES`. Blobs that are no
 * pack's get one segment each. `where` must hold every requested digest.
 */
export function planReads(digests: string[], where: Map<string, BlobLocation>): ReadSegment[] {
  const segments: ReadSegment[] = [];
  const byPack = new Map<string, { index: number; offset: number; size: number }[]>();
  digests.forEach((digest, index) => {
    const loc = where.get(digest);
    if (!loc) throw new Error(`planReads: no location for ${digest}`);
    if (!loc.pack) {
      segments.push({ start: 0, end: loc.size, members: [{ index, at: 0, size: loc.size }] });
      return;
    }
    let list = byPack.get(loc.pack.key);
    if (!list) byPack.set(loc.pack.key, (list = []));
    list.push({ index, offset: loc.pack.offset, size: loc.size });
  });
  for (const [packKey, blobs] of byPack) {
    blobs.sort((a, b) => a.offset - b.offset);
    let cur: ReadSegment | undefined;
    for (const b of blobs) {
      const end = b.offset + b.size;
      if (cur && b.offset <= cur.end + MAX_GAP_BYTES && Math.max(end, cur.end) - cur.start <= MAX_SEGMENT_BYTES) {
        cur.end = Math.max(cur.end, end);
      } else {
        cur = { packKey, start: b.offset, end, members: [] };
        segments.push(cur);
      }
      cur.members.push({ index: b.index, at: b.offset - cur.start, size: b.size });
    }
  }
  return segments;
}

/** Splits a request list into windows of at most `maxBytes` (at least one blob each), fetched one after another. */
export function windows<T extends { size: number }>(items: T[], maxBytes: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const it of items) {
    if (cur.length && bytes + it.size > maxBytes) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(it);
    bytes += it.size;
  }
  if (cur.length) out.push(cur);
  return out;
}
