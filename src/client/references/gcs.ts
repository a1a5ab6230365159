/**
 * gs:// references, read with the user's own Google credentials through @google-cloud/storage
 * (loaded on first use): Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS,
 * `gcloud auth application-default login`, the metadata server), or STORAGE_EMULATOR_HOST for an
 * emulator, which is what the library honours.
 *
 * An object records its generation plus md5Hash (crc32c for composite objects, which have no MD5);
 * a prefix expands to its objects. A download fetches the recorded generation, so a bucket with
 * Object Versioning serves the logged bytes even after an overwrite; without it, an overwritten
 * object is a clear "changed" error. The bytes are checked against the recorded MD5 / CRC32C.
 */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { File, Storage } from '@google-cloud/storage';
import { AmphoraError } from '../../core/errors.js';
import type { ManifestEntry } from '../../core/node/manifest.js';
import {
  cloudUri, errorFacts, isFolderMarker, isUnreachable, loadSdk, maxObjectsOf, parseCloudUri, prefixedPath, resolveCloudReference,
  tooManyObjects, VerifyingStream, type CloudRefOptions, type RefEntry,
} from './cloud.js';

type GcsSdk = typeof import('@google-cloud/storage');
type ObjectMetadata = { name?: string; generation?: string | number; size?: string | number; md5Hash?: string; crc32c?: string; etag?: string };

const clients = new Map<string, Promise<{ sdk: GcsSdk; storage: Storage }>>();

function gcs(): Promise<{ sdk: GcsSdk; storage: Storage }> {
  const env = process.env;
  const key = JSON.stringify([env.STORAGE_EMULATOR_HOST, env.GOOGLE_APPLICATION_CREDENTIALS, env.GOOGLE_CLOUD_PROJECT]);
  let made = clients.get(key);
  if (!made) {
    made = (async () => {
      const sdk = await loadSdk('@google-cloud/storage', () => import('@google-cloud/storage'));
      // A few quick retries, not the library's ten minutes: a wrong endpoint should fail fast.
      return { sdk, storage: new sdk.Storage({ retryOptions: { maxRetries: 2, totalTimeout: 60, maxRetryDelay: 4 } }) };
    })();
    made.catch(() => clients.delete(key));
    clients.set(key, made);
  }
  return made;
}

export function gcsError(e: unknown, uri: string): AmphoraError {
  if (e instanceof AmphoraError) return e;
  const f = errorFacts(e);
  const { bucket } = parseCloudUri(uri);
  if (/Could not load the default credentials|Unable to detect a Project Id|invalid_grant|Could not refresh access token/i.test(f.message)) {
    return new AmphoraError(
      'unauthorized',
      `No usable Google credentials to read ${uri}: references are read with your own credentials. Run \`gcloud auth application-default login\` or set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file.`,
    );
  }
  if (f.status === 404 && /bucket/i.test(f.message)) return new AmphoraError('not_found', `Bucket "${bucket}" does not exist (${uri}); check the bucket name.`);
  if (f.status === 404) return new AmphoraError('not_found', `${uri} does not exist; check the object name.`);
  if (f.status === 401 || f.status === 403) {
    return new AmphoraError('unauthorized', `Google Cloud Storage refused to let your credentials read ${uri} (${f.status}: ${f.message}); check GOOGLE_APPLICATION_CREDENTIALS and that the account may read this bucket.`);
  }
  if (isUnreachable(e)) {
    const host = process.env.STORAGE_EMULATOR_HOST;
    return new AmphoraError('server_unreachable', `Cannot reach Google Cloud Storage${host ? ` at ${host}` : ''} for ${uri} (${f.message}); check the network${host ? ' and STORAGE_EMULATOR_HOST' : ''}.`);
  }
  return new AmphoraError('internal', `Google Cloud Storage failed on ${uri} (${f.status ?? f.name}: ${f.message}).`);
}

function objectEntry(path: string, bucket: string, md: ObjectMetadata, checksum: boolean): RefEntry {
  const ref = cloudUri('gs', bucket, md.name!);
  const size = Number(md.size ?? 0);
  if (!checksum) return { path, digest: ref, size, ref, extra: { checksum: false } };
  const digest = md.md5Hash ?? md.crc32c;
  if (!digest || md.generation === undefined) {
    throw new AmphoraError('invalid_reference', `${ref} reports no generation or checksum, so changes could not be detected; pass checksum: false to track it by URI only.`);
  }
  const extra: Record<string, unknown> = { generation: String(md.generation) };
  if (md.md5Hash) extra.md5Hash = md.md5Hash;
  if (md.crc32c) extra.crc32c = md.crc32c;
  if (md.etag) extra.etag = md.etag;
  return { path, digest, size, ref, extra };
}

async function listPrefix(bucket: string, prefix: string, opts: CloudRefOptions, shown: string): Promise<RefEntry[]> {
  const { storage } = await gcs();
  const max = maxObjectsOf(opts);
  const checksum = opts.checksum !== false;
  const out: RefEntry[] = [];
  let pageToken: string | undefined;
  try {
    do {
      const [files, next] = await storage.bucket(bucket).getFiles({ prefix, autoPaginate: false, maxResults: 1000, pageToken });
      for (const f of files) {
        if (isFolderMarker(f.name)) continue;
        if (out.length >= max) throw tooManyObjects(shown, max);
        out.push(objectEntry(prefixedPath(prefix, f.name, opts.name), bucket, { ...(f.metadata as ObjectMetadata), name: f.name }, checksum));
      }
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken);
  } catch (e) {
    throw gcsError(e, shown);
  }
  return out;
}

/** Entries for `gs://bucket/object` (one object) or `gs://bucket/prefix/` (every object under it). */
export function resolveGcsReference(uri: string, opts: CloudRefOptions = {}): Promise<RefEntry[]> {
  return resolveCloudReference(uri, opts, {
    listPrefix: (bucket, prefix) => listPrefix(bucket, prefix, opts, uri),
    unchecked: (path, bucket, key) => objectEntry(path, bucket, { name: key }, false),
    lookup: async (path, bucket, key) => {
      const { storage } = await gcs();
      try {
        const [md] = await storage.bucket(bucket).file(key).getMetadata();
        return objectEntry(path, bucket, { ...(md as ObjectMetadata), name: key }, true);
      } catch (e) {
        const err = gcsError(e, uri);
        if (err.code !== 'not_found' || /^Bucket/.test(err.message)) throw err;
        return undefined;
      }
    },
  });
}

/** Fetches a gs:// entry into `tmp`: the recorded generation, verified against the recorded checksum. */
export async function downloadGcsReference(path: string, entry: ManifestEntry, tmp: string): Promise<void> {
  const uri = entry.ref!;
  const { bucket, key } = parseCloudUri(uri);
  const checksum = entry.extra?.checksum !== false;
  const generation = checksum && typeof entry.extra?.generation === 'string' ? entry.extra.generation : undefined;
  const { sdk, storage } = await gcs();
  const file: File = storage.bucket(bucket).file(key, generation ? { generation: Number(generation) } : {});
  const md5 = checksum && typeof entry.extra?.md5Hash === 'string' ? entry.extra.md5Hash : undefined;
  const crc = checksum && !md5 && typeof entry.extra?.crc32c === 'string' ? entry.extra.crc32c : undefined;
  const crc32c = crc ? new sdk.CRC32C() : undefined;
  const v = new VerifyingStream(md5 ? ['md5'] : [], crc32c ? [crc32c] : []);
  try {
    // Our own checks below; decompress off so the bytes are the stored ones the checksums describe.
    await pipeline(file.createReadStream({ validation: false, decompress: false }), v, createWriteStream(tmp));
  } catch (e) {
    const err = gcsError(e, uri);
    if (err.code === 'not_found' && generation) throw await generationGone(path, generation, storage, bucket, key, uri);
    throw err;
  }
  if (checksum && v.bytes !== entry.size) {
    throw new AmphoraError('digest_mismatch', `Reference "${path}" from ${uri} arrived with ${v.bytes} bytes, but ${entry.size} were recorded; retry the download.`);
  }
  const got = md5 ? v.digest('md5', 'base64') : crc32c?.toString();
  const want = md5 ?? crc;
  if (want !== undefined && got !== want) {
    throw new AmphoraError('reference_changed', `Reference "${path}" at ${uri} does not match what was logged: ${md5 ? 'MD5' : 'CRC32C'} was ${want}, now ${got}. Log a new artifact version to track the new content.`);
  }
}

/** The recorded generation is gone: say whether the object changed or was deleted. */
async function generationGone(path: string, generation: string, storage: Storage, bucket: string, key: string, uri: string): Promise<AmphoraError> {
  let now: ObjectMetadata | undefined;
  try {
    [now] = (await storage.bucket(bucket).file(key).getMetadata()) as [ObjectMetadata, ...unknown[]];
  } catch (e) {
    const err = gcsError(e, uri);
    if (err.code !== 'not_found') return err;
  }
  if (!now) return new AmphoraError('not_found', `Reference "${path}" at ${uri} was deleted since it was logged (generation ${generation}); it cannot be downloaded any more.`);
  return new AmphoraError(
    'reference_changed',
    `Reference "${path}" at ${uri} changed since it was logged: generation was ${generation}, now ${String(now.generation)}, and the bucket keeps no old generations (enable Object Versioning to keep them). Log a new artifact version to track the new content.`,
  );
}
