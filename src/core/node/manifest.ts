import { createHash } from 'node:crypto';
import { AmphoraError } from '../errors.js';
import { checkPathCollisions, validateManifestPath } from '../paths.js';

/** One file of a version. `digest` is SHA-256 hex of the bytes (or the URI when checksum=false). */
export interface ManifestEntry {
  digest: string;
  size: number;
  /** External reference (`http(s)://`, `file://`, `s3://`, `gs://`); bytes are not stored. */
  ref?: string;
  /** Extra facts about a reference: `etag`, `versionId`, `checksum: false`, … */
  extra?: Record<string, unknown>;
}
export type Manifest = Record<string, ManifestEntry>;

export const SHA256_HEX = /^[0-9a-f]{64}$/;
export const MANIFEST_DIGEST_PREFIX = 'amphora-manifest-v1\n';

/**
 * Code-point order (not UTF-16 order, not locale order): what the digest rule specifies. The two
 * orders differ only where a surrogate is involved, so strings are compared by UTF-16 unit (a
 * 10,000-path manifest sorts in milliseconds, not tens of them) unless the first differing units
 * include one; then by code point.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if ((x & 0xf800) === 0xd800 || (y & 0xf800) === 0xd800) return compareByCodePoint(a, b);
    return x - y;
  }
  return a.length - b.length;
}

function compareByCodePoint(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done === y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}

export function sortedPaths(manifest: Manifest): string[] {
  return Object.keys(manifest).sort(compareCodePoints);
}

/** SHA-256 over "amphora-manifest-v1\n" + "{path}:{digest}\n" per entry sorted by path. */
export function artifactDigest(manifest: Manifest): string {
  const h = createHash('sha256');
  h.update(MANIFEST_DIGEST_PREFIX);
  for (const p of sortedPaths(manifest)) h.update(`${p}:${manifest[p].digest}\n`);
  return h.digest('hex');
}

/** Validates every path, collision, digest and size. Returns the total size in bytes. */
export function validateManifest(manifest: Manifest): number {
  let total = 0;
  /** Stored blob digest → the first entry naming it: one digest is one byte string, so one size. */
  const sizeOf = new Map<string, { path: string; size: number }>();
  for (const [p, e] of Object.entries(manifest)) {
    validateManifestPath(p);
    if (!Number.isSafeInteger(e.size) || e.size < 0) {
      throw new AmphoraError('invalid_manifest', `Manifest entry "${p}" has an invalid size ${String(e.size)}; sizes are whole numbers of bytes ≥ 0.`);
    }
    if (!e.ref && !SHA256_HEX.test(e.digest)) {
      throw new AmphoraError('invalid_manifest', `Manifest entry "${p}" has digest "${String(e.digest).slice(0, 80)}", which is not 64 lowercase hex characters of SHA-256.`);
    }
    if (e.ref !== undefined && !/^(https?|file|s3|gs):\/\//.test(e.ref)) {
      throw new AmphoraError('invalid_manifest', `Manifest entry "${p}" references "${e.ref.slice(0, 80)}"; only http(s)://, file://, s3:// and gs:// references are supported.`);
    }
    if (!e.ref) {
      const first = sizeOf.get(e.digest);
      if (first && first.size !== e.size) {
        throw new AmphoraError(
          'invalid_manifest',
          `Manifest entries "${first.path}" (${first.size} bytes) and "${p}" (${e.size} bytes) have the same digest ${e.digest} but different sizes; ` +
            'identical content has one size, so one of them is wrong. Re-hash both files and send the manifest again.',
        );
      }
      if (!first) sizeOf.set(e.digest, { path: p, size: e.size });
    }
    total += e.size;
  }
  checkPathCollisions(Object.keys(manifest));
  return total;
}

/** Digests of the entries whose bytes live in the blob store (everything but references). */
export function storedBlobs(manifest: Manifest): { digest: string; size: number }[] {
  const seen = new Map<string, number>();
  for (const e of Object.values(manifest)) if (!e.ref) seen.set(e.digest, e.size);
  return [...seen].map(([digest, size]) => ({ digest, size }));
}
