/**
 * Committed manifests kept on disk beside the blob cache. A committed version's manifest never
 * changes, so a download of a version seen before needs no manifest request (for 10,000 files: a
 * server query, ~1 MB of JSON and its schema check). The format is shared with the Python client
 * (python/amphora/manifest_cache.py), so either reads what the other wrote:
 *
 *   <cacheDir>/manifests/<key[0:2]>/<key>
 *   key  = sha256("amphora-manifest-v1\n" + baseUrl + "\n" + versionId + "\n" + versionDigest)
 *   file = "amphora-manifest-v1 <sha256 of body>\n" + body
 *   body = JSON {"digest", "fileCount", "size", "entries"} (entries in their wire shape)
 *
 * A file counts only when its body hashes to its header, describes the version the server just
 * named (digest, file count, size) and its entries add up to that size and hash to that digest;
 * anything else is a miss, removed and fetched again. Entries were
 * validated when they arrived from the server; every path is checked again when written (joinInside).
 * The cache is best effort: no error from it ever fails a download.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeFileSync, constants } from 'node:fs';
import path from 'node:path';
import { artifactDigest, type Manifest } from '../core/node/manifest.js';

const MAGIC = 'amphora-manifest-v1';
/** A manifest file larger than this is not ours (a million entries are ~100 MB). */
const MAX_FILE_BYTES = 256 << 20;

/** What the server said about a version: the cached manifest must match all of it. */
export interface CachedVersion {
  baseUrl: string;
  id: string;
  digest: string;
  fileCount: number;
  size: number;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

export class ManifestCache {
  readonly root: string;

  constructor(cacheDir: string) {
    this.root = path.join(cacheDir, 'manifests');
  }

  /** Where `v`'s manifest lives (the key binds server, version and digest). */
  file(v: CachedVersion): string {
    const key = sha256(`${MAGIC}\n${v.baseUrl.replace(/\/+$/, '')}\n${v.id}\n${v.digest}`);
    return path.join(this.root, key.slice(0, 2), key);
  }

  /** The cached manifest of `v`, or undefined (a bad file is removed on the way). */
  read(v: CachedVersion): Manifest | undefined {
    const file = this.file(v);
    const bytes = readRegularFile(file);
    if (!bytes) return undefined;
    const entries = parse(bytes, v);
    if (!entries) {
      try {
        unlinkSync(file);
      } catch {
        /* read-only cache or already gone */
      }
    }
    return entries;
  }

  /** Stores `entries` (already validated against `v`) through a temp file and a rename. */
  write(v: CachedVersion, entries: Manifest): void {
    const file = this.file(v);
    const body = JSON.stringify({ digest: v.digest, fileCount: v.fileCount, size: v.size, entries });
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(tmp, `${MAGIC} ${sha256(body)}\n${body}`, { flag: 'wx' });
      renameSync(tmp, file);
    } catch {
      try {
        unlinkSync(tmp);
      } catch {
        /* never created */
      }
    }
  }
}

/** A regular file's bytes (no symlink followed, size bounded), or undefined. */
function readRegularFile(file: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_FILE_BYTES) return undefined;
    const buf = Buffer.allocUnsafe(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, buf, got, st.size - got, got);
      if (n === 0) return undefined;
      got += n;
    }
    return buf;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function parse(bytes: Buffer, v: CachedVersion): Manifest | undefined {
  const nl = bytes.indexOf(0x0a);
  if (nl < 0) return undefined;
  const header = bytes.subarray(0, nl).toString('latin1');
  const body = bytes.subarray(nl + 1);
  if (header !== `${MAGIC} ${sha256(body)}`) return undefined;
  try {
    const doc = JSON.parse(body.toString('utf8')) as { digest?: unknown; fileCount?: unknown; size?: unknown; entries?: unknown };
    if (doc.digest !== v.digest || doc.fileCount !== v.fileCount || doc.size !== v.size) return undefined;
    const entries = doc.entries;
    if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) return undefined;
    if (Object.keys(entries).length !== v.fileCount) return undefined;
    // The body must agree with itself and name the version's own paths and digests (~10 ms for
    // 10,000 files): a file planted in a shared or writable cache then names no other content
    // than the server's manifest would.
    let total = 0;
    for (const e of Object.values(entries as Record<string, unknown>)) {
      const entry = e as { digest?: unknown; size?: unknown } | null;
      if (typeof entry !== 'object' || entry === null || typeof entry.digest !== 'string' || !Number.isSafeInteger(entry.size) || (entry.size as number) < 0) return undefined;
      total += entry.size as number;
    }
    if (total !== v.size || artifactDigest(entries as Manifest) !== v.digest) return undefined;
    return entries as Manifest;
  } catch {
    return undefined;
  }
}
