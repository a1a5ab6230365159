/**
 * External references: entries whose bytes stay where they are. `http(s)://` records the ETag as
 * digest and Content-Length as size (HEAD request); `file://` records the SHA-256 of the content
 * (a folder expands to its files); `s3://` and `gs://` live in references/ (one module per scheme);
 * `checksum: false` records the URI itself as the digest. Downloading a reference fetches it again
 * and checks that it did not change.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, rename, stat, unlink } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { request, type Dispatcher } from './undici.js';
import { AmphoraError } from '../core/errors.js';
import type { ManifestEntry } from '../core/node/manifest.js';
import { validateManifestPath } from '../core/paths.js';
import { tempName, HashingStream } from './cache.js';
import { hashFile } from './hash.js';
import { checkFileReference, referenceDispatcher } from './referencePolicy.js';
import type { CloudRefOptions, RefEntry } from './references/cloud.js';
import { downloadGcsReference, resolveGcsReference } from './references/gcs.js';
import { downloadS3Reference, resolveS3Reference } from './references/s3.js';

export type { RefEntry } from './references/cloud.js';
export type ReferenceOptions = CloudRefOptions;

function stripEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

function lastSegment(uri: string): string {
  const u = new URL(uri);
  const segs = u.pathname.split('/').filter(Boolean);
  return decodeURIComponent(segs[segs.length - 1] ?? u.hostname);
}

/** The URI's scheme (`s3`, `https`, …), or undefined when `uri` is not a URI. */
export function referenceScheme(uri: string): string | undefined {
  return /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(uri)?.[1].toLowerCase();
}

const SCHEMES = 'http(s)://, file://, s3:// or gs://';

export async function resolveReference(uri: string, opts: ReferenceOptions = {}): Promise<RefEntry[]> {
  const scheme = referenceScheme(uri);
  if (scheme === 's3') return resolveS3Reference(uri, opts);
  if (scheme === 'gs') return resolveGcsReference(uri, opts);
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new AmphoraError('invalid_reference', `"${uri}" is not a URI; references look like https://host/path/file.csv, s3://bucket/key or file:///abs/path.`);
  }
  const checksum = opts.checksum !== false;
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    const name = validateManifestPath(opts.name ?? lastSegment(uri));
    if (!checksum) return [{ path: name, digest: uri, size: 0, ref: uri, extra: { checksum: false } }];
    let res;
    try {
      res = await request(uri, { method: 'HEAD', headersTimeout: 30_000 });
    } catch (e) {
      throw new AmphoraError('invalid_reference', `Cannot reach reference ${uri} (${(e as Error).message}); check the URL or pass checksum: false to track it without checking.`);
    }
    await res.body.dump();
    if (res.statusCode >= 400) throw new AmphoraError('invalid_reference', `Reference ${uri} answered HTTP ${res.statusCode} to HEAD; check the URL.`);
    const etag = header(res.headers, 'etag');
    const size = Number(header(res.headers, 'content-length') ?? 0) || 0;
    if (!etag) {
      throw new AmphoraError('invalid_reference', `Reference ${uri} has no ETag, so changes could not be detected; pass checksum: false to track it by URI only.`);
    }
    return [{ path: name, digest: stripEtag(etag), size, ref: uri, extra: { etag } }];
  }
  if (url.protocol === 'file:') {
    const local = fileURLToPath(url);
    let st;
    try {
      st = await stat(local);
    } catch {
      throw new AmphoraError('invalid_reference', `Reference ${uri} points at ${local}, which does not exist; check the path.`);
    }
    if (st.isDirectory()) {
      const files = await walkFiles(local);
      return Promise.all(
        files.map(async (f) => {
          const rel = relative(local, f).split(sep).join('/');
          const p = validateManifestPath(opts.name ? posix.join(opts.name, rel) : rel);
          const fileUri = pathToFileURL(f).href;
          if (!checksum) return { path: p, digest: fileUri, size: (await stat(f)).size, ref: fileUri, extra: { checksum: false } };
          const h = await hashFile(f);
          return { path: p, digest: h.digest, size: h.size, ref: fileUri };
        }),
      );
    }
    const p = validateManifestPath(opts.name ?? lastSegment(uri));
    if (!checksum) return [{ path: p, digest: uri, size: st.size, ref: uri, extra: { checksum: false } }];
    const h = await hashFile(local, st.size);
    return [{ path: p, digest: h.digest, size: h.size, ref: uri }];
  }
  throw new AmphoraError('unsupported', `Reference scheme "${url.protocol.slice(0, -1)}" (in ${uri}) is not supported; use ${SCHEMES}.`);
}

async function walkFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walkFiles(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

async function fetchHttpReference(path: string, entry: ManifestEntry, uri: string, checksum: boolean, tmp: string, dispatcher: Dispatcher | undefined): Promise<void> {
  let res;
  try {
    res = await request(uri, { method: 'GET', dispatcher });
  } catch (e) {
    // An internal address found when connecting (referencePolicy) comes back as the cause.
    const refused = (e as { cause?: unknown }).cause;
    if (refused instanceof AmphoraError) throw refused;
    if (e instanceof AmphoraError) throw e;
    throw new AmphoraError('server_unreachable', `Cannot fetch reference "${path}" from ${uri} (${(e as Error).message}); check that the host is reachable.`);
  }
  if (res.statusCode >= 400) {
    await res.body.dump();
    throw new AmphoraError('not_found', `Reference "${path}" at ${uri} answered HTTP ${res.statusCode}; the object may have moved or been deleted.`);
  }
  const etag = header(res.headers, 'etag');
  if (checksum && (!etag || stripEtag(etag) !== entry.digest)) {
    await res.body.dump();
    throw new AmphoraError(
      'reference_changed',
      `Reference "${path}" at ${uri} changed since it was logged: ETag was ${String(entry.extra?.etag ?? entry.digest)}, now ${etag ?? 'missing'}. Log a new artifact version to track the new content.`,
    );
  }
  await pipeline(res.body, createWriteStream(tmp));
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Fetches a reference entry to `dest` (temp + rename) after checking it is unchanged. */
export async function downloadReference(path: string, entry: ManifestEntry, dest: string): Promise<void> {
  const uri = entry.ref!;
  const checksum = entry.extra?.checksum !== false;
  const scheme = referenceScheme(uri);
  const tmp = tempName(dest);
  try {
    if (scheme === 's3' || scheme === 'gs') {
      await (scheme === 's3' ? downloadS3Reference : downloadGcsReference)(path, entry, tmp);
      await rename(tmp, dest);
      return;
    }
    const url = new URL(uri);
    if (url.protocol === 'http:' || url.protocol === 'https:') {
      const dispatcher = referenceDispatcher(path, uri);
      try {
        await fetchHttpReference(path, entry, uri, checksum, tmp, dispatcher);
      } finally {
        await dispatcher?.close();
      }
    } else if (url.protocol === 'file:') {
      const local = await checkFileReference(path, fileURLToPath(url), checksum);
      const hasher = new HashingStream();
      try {
        await pipeline(createReadStream(local), hasher, createWriteStream(tmp));
      } catch (e) {
        throw new AmphoraError('not_found', `Reference "${path}" points at ${local}, which cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); it may have moved or been deleted.`);
      }
      const got = hasher.digest();
      if (checksum && got !== entry.digest) {
        throw new AmphoraError('reference_changed', `Reference "${path}" at ${local} changed since it was logged: SHA-256 was ${entry.digest}, now ${got}. Log a new artifact version to track the new content.`);
      }
    } else {
      throw new AmphoraError('unsupported', `Reference "${path}" uses the scheme "${url.protocol.slice(0, -1)}" (${uri}), which this client cannot download; it downloads ${SCHEMES}.`);
    }
    await rename(tmp, dest);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}
