/**
 * What a client's download cache holds for a digest, looked up on disk the way a new process would:
 * a blob file (large blobs, hard links) or an entry of a pack (small blobs copied in). Tests use it
 * to check "the blob reached the cache" and to damage a cached copy.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cachedBlobPath } from '../../src/core/node/config.js';
import { ENTRY_BYTES, entryDigest, entryOffset, entrySize, readPackIndex } from '../../src/core/node/packFormat.js';

/** Every entry of every valid pack in the cache, in pack-name order. */
function* packEntries(cacheDir: string): Generator<{ file: string; digest: string; offset: number; size: number }> {
  const dir = path.join(cacheDir, 'packs');
  for (const name of existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.pack')).sort() : []) {
    const file = path.join(dir, name);
    const fd = openSync(file, 'r');
    let read;
    try {
      read = readPackIndex(fd);
    } finally {
      closeSync(fd);
    }
    if (typeof read === 'string') continue;
    for (let i = 0; i < read.index.length / ENTRY_BYTES; i++) yield { file, digest: entryDigest(read.index, i), offset: entryOffset(read.index, i), size: entrySize(read.index, i) };
  }
}

/** The pack file and place of a packed blob, or undefined. */
export function packedBlob(cacheDir: string, digest: string): { file: string; offset: number; size: number } | undefined {
  for (const e of packEntries(cacheDir)) if (e.digest === digest) return e;
  return undefined;
}

/** The cached bytes of a blob (file first, then packs), unverified; undefined when not cached. */
export function cachedBytes(cacheDir: string, digest: string): Buffer | undefined {
  const file = cachedBlobPath(cacheDir, digest);
  if (existsSync(file)) return readFileSync(file);
  const at = packedBlob(cacheDir, digest);
  return at && readFileSync(at.file).subarray(at.offset, at.offset + at.size);
}

/** Overwrites a cached blob's bytes in place (same size, other bytes), in its file or its pack. */
export function damageCached(cacheDir: string, digest: string): void {
  const file = cachedBlobPath(cacheDir, digest);
  if (existsSync(file)) {
    const b = readFileSync(file);
    writeFileSync(file, Buffer.alloc(b.length, 'X'));
    return;
  }
  const at = packedBlob(cacheDir, digest);
  if (!at) throw new Error(`damageCached: ${digest} is not in the cache ${cacheDir}`);
  const b = readFileSync(at.file);
  b.fill('X', at.offset, at.offset + at.size);
  writeFileSync(at.file, b);
}

/** Every blob the cache holds, as files or in packs (sorted digests; a blob in both counts once). */
export function cachedDigests(cacheDir: string): string[] {
  const out = new Set<string>();
  const root = path.join(cacheDir, 'blobs', 'sha256');
  for (const shard of existsSync(root) ? readdirSync(root) : []) for (const name of readdirSync(path.join(root, shard))) out.add(name);
  for (const e of packEntries(cacheDir)) out.add(e.digest);
  return [...out].sort();
}
