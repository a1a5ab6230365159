/**
 * What s3:// and gs:// references share: parsing `scheme://bucket/key`, naming the entries of an
 * object or a prefix, the max_objects cap, and a byte counter that verifies what a download got.
 */
import { createHash, type Hash } from 'node:crypto';
import { posix } from 'node:path';
import { Transform } from 'node:stream';
import { AmphoraError } from '../../core/errors.js';
import type { ManifestEntry } from '../../core/node/manifest.js';
import { validateManifestPath } from '../../core/paths.js';

export interface RefEntry extends ManifestEntry {
  path: string;
}

export interface CloudRefOptions {
  name?: string;
  checksum?: boolean;
  /** At most this many objects under a prefix (default DEFAULT_MAX_OBJECTS); more is an error. */
  maxObjects?: number;
}

/** W&B's default: a prefix that expands to more objects than this needs an explicit max_objects. */
export const DEFAULT_MAX_OBJECTS = 10_000;

export interface CloudUri {
  scheme: 's3' | 'gs';
  bucket: string;
  /** The object key or prefix, exactly as written after `bucket/` (not percent-decoded: keys are raw). */
  key: string;
}

/** `s3://bucket/key` → {bucket, key}. Keys are taken verbatim, as the AWS and gcloud CLIs do. */
export function parseCloudUri(uri: string): CloudUri {
  const m = /^(s3|gs):\/\/([^/?#]+)(?:\/(.*))?$/s.exec(uri);
  if (!m) {
    throw new AmphoraError('invalid_reference', `"${uri}" is not a bucket URI; write it as s3://BUCKET/KEY, s3://BUCKET/PREFIX/, gs://BUCKET/KEY or gs://BUCKET/PREFIX/.`);
  }
  return { scheme: m[1] as 's3' | 'gs', bucket: m[2], key: m[3] ?? '' };
}

export function cloudUri(scheme: 's3' | 'gs', bucket: string, key: string): string {
  return `${scheme}://${bucket}/${key}`;
}

export function maxObjectsOf(opts: CloudRefOptions): number {
  const max = opts.maxObjects ?? DEFAULT_MAX_OBJECTS;
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new AmphoraError('invalid_request', `maxObjects must be a whole number ≥ 1, got ${String(opts.maxObjects)}.`);
  }
  return max;
}

export function tooManyObjects(uri: string, max: number): AmphoraError {
  return new AmphoraError(
    'invalid_request',
    `${uri} holds more than max_objects=${max} objects; pass a larger max_objects (maxObjects in TypeScript) to track them all, or reference a narrower prefix.`,
  );
}

/** Logical path of one object: `name` (or the key's last segment) for a single object. */
export function objectPath(key: string, name: string | undefined): string {
  const segs = key.split('/').filter(Boolean);
  return validateManifestPath(name ?? segs[segs.length - 1] ?? '');
}

/** Logical path of an object found under `prefix`: its key relative to the prefix, under `name/`. */
export function prefixedPath(prefix: string, key: string, name: string | undefined): string {
  const rel = key.slice(prefix.length);
  return validateManifestPath(name ? posix.join(name, rel) : rel);
}

/** Folder markers (`photos/`, size 0) that consoles create are not files. */
/** How one store (S3, GCS) answers what resolveCloudReference asks. */
export interface CloudStore {
  /** Entries of every object under `prefix` (folder markers skipped; max_objects enforced). */
  listPrefix(bucket: string, prefix: string): Promise<RefEntry[]>;
  /** The entry of `key` recorded without asking the store (checksum off). */
  unchecked(path: string, bucket: string, key: string): RefEntry;
  /** The entry of object `key`; undefined when no object has that key (other failures throw). */
  lookup(path: string, bucket: string, key: string): Promise<RefEntry | undefined>;
}

/**
 * Entries for `scheme://bucket/key` (one object) or `scheme://bucket/prefix/` (every object under
 * it), the rules s3:// and gs:// share. A key that is no object but has objects under `key/` is
 * that folder (as the aws CLI and gsutil treat it).
 */
export async function resolveCloudReference(uri: string, opts: CloudRefOptions, store: CloudStore): Promise<RefEntry[]> {
  const { bucket, key } = parseCloudUri(uri);
  if (key === '' || key.endsWith('/')) {
    const found = await store.listPrefix(bucket, key);
    if (found.length === 0) throw new AmphoraError('not_found', `No objects under ${uri}; check the bucket and prefix.`);
    return found;
  }
  const path = objectPath(key, opts.name);
  if (opts.checksum === false) return [store.unchecked(path, bucket, key)];
  const one = await store.lookup(path, bucket, key);
  if (one) return [one];
  const found = await store.listPrefix(bucket, `${key}/`);
  if (found.length === 0) throw new AmphoraError('not_found', `${uri} does not exist: no object has that key and none is under ${key}/; check the key.`);
  return found;
}

export function isFolderMarker(key: string): boolean {
  return key.endsWith('/');
}

/**
 * Counts (and optionally hashes) the bytes of a download on their way to disk, so the caller can
 * check size and checksum against what was recorded once the stream ends.
 */
export class VerifyingStream extends Transform {
  bytes = 0;
  private readonly hashes: Hash[];
  private readonly custom: { update(b: Buffer): unknown }[];
  constructor(readonly algorithms: string[] = [], custom: { update(b: Buffer): unknown }[] = []) {
    super();
    this.hashes = algorithms.map((a) => createHash(a));
    this.custom = custom;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: () => void) {
    this.bytes += chunk.length;
    for (const h of this.hashes) h.update(chunk);
    for (const h of this.custom) h.update(chunk);
    this.push(chunk);
    cb();
  }
  digest(algorithm: string, encoding: 'hex' | 'base64'): string {
    const i = this.algorithms.indexOf(algorithm);
    return this.hashes[i].digest(encoding);
  }
}

/** An SDK error's class name / HTTP status / errno, whichever the SDK gives. */
export function errorFacts(e: unknown): { name: string; status?: number; code?: string; message: string } {
  const x = e as { name?: string; Code?: string; code?: string | number; $metadata?: { httpStatusCode?: number }; message?: string; cause?: { code?: string } };
  const status = x?.$metadata?.httpStatusCode ?? (typeof x?.code === 'number' ? x.code : undefined);
  let name = String(x?.Code ?? x?.name ?? '');
  let message = String(x?.message ?? e);
  // Answers without a body (HEAD) leave the SDK only the status to go on.
  if (name === 'Unknown' || message === 'UnknownError') {
    name = status ? `HTTP ${status}` : name;
    message = status ? `HTTP ${status} with no error body` : message;
  }
  return { name, status, code: typeof x?.code === 'string' ? x.code : x?.cause?.code, message };
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH']);
export function isUnreachable(e: unknown): boolean {
  const f = errorFacts(e);
  return (f.code !== undefined && UNREACHABLE.has(f.code)) || /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|socket hang up/.test(f.message);
}

/**
 * Loads an optional SDK on first use (the CLI and the extension never pay for it otherwise; the
 * build turns these imports into lazily loaded vendor bundles). A missing package is a clear error.
 */
export async function loadSdk<T>(pkg: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new AmphoraError('unsupported', `${pkg} is not installed, and it is needed for this reference; install it with: npm install ${pkg}`);
    }
    throw e;
  }
}
