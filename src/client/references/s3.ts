/**
 * s3:// references, read with the user's own AWS credentials through @aws-sdk/client-s3 (loaded on
 * first use). Endpoint, region and credentials come from the standard AWS environment and config
 * files (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_PROFILE, SSO, …);
 * path-style addressing when an endpoint is set (MinIO, R2, s3rver).
 *
 * An object records its ETag as digest plus its VersionId when the bucket is versioned; a prefix
 * expands to its objects (ListObjectsV2, or ListObjectVersions on a versioned bucket). A download
 * fetches the recorded VersionId when there is one, else the current object, which must still have
 * the recorded ETag; size and (for plain MD5 ETags) the MD5 of the bytes are checked on the way.
 */
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { silenceAwsNodeVersionWarning } from '../../core/node/awsNodeWarning.js';
import { AmphoraError } from '../../core/errors.js';
import type { ManifestEntry } from '../../core/node/manifest.js';
import {
  cloudUri, errorFacts, isFolderMarker, isUnreachable, loadSdk, maxObjectsOf, parseCloudUri, prefixedPath, resolveCloudReference,
  tooManyObjects, VerifyingStream, type CloudRefOptions, type RefEntry,
} from './cloud.js';

type S3Sdk = typeof import('@aws-sdk/client-s3');

const clients = new Map<string, Promise<{ sdk: S3Sdk; client: S3Client }>>();

function endpointFromEnv(): string | undefined {
  return process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || undefined;
}

/** One client per AWS configuration (tests and long-lived processes may change the environment). */
function s3(): Promise<{ sdk: S3Sdk; client: S3Client }> {
  const env = process.env;
  const key = JSON.stringify([endpointFromEnv(), env.AWS_REGION, env.AWS_DEFAULT_REGION, env.AWS_PROFILE, env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN]);
  let made = clients.get(key);
  if (!made) {
    made = (async () => {
      silenceAwsNodeVersionWarning();
      const sdk = await loadSdk('@aws-sdk/client-s3', () => import('@aws-sdk/client-s3'));
      // followRegionRedirects: a bucket in another region than the configured one still works.
      const base = { forcePathStyle: endpointFromEnv() !== undefined, followRegionRedirects: true };
      let client = new sdk.S3Client(base);
      try {
        await client.config.region();
      } catch {
        // No region configured anywhere: S3 answers from us-east-1 and redirects to the bucket's.
        client.destroy();
        client = new sdk.S3Client({ ...base, region: 'us-east-1' });
      }
      return { sdk, client };
    })();
    made.catch(() => clients.delete(key));
    clients.set(key, made);
  }
  return made;
}

function stripEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

/** A real VersionId; "null" is what unversioned objects report in a versioned listing. */
function pinnedVersion(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' && v !== 'null' ? v : undefined;
}

function objectEntry(path: string, bucket: string, key: string, o: { ETag?: string; size?: number; VersionId?: string }, checksum: boolean): RefEntry {
  const ref = cloudUri('s3', bucket, key);
  if (!checksum) return { path, digest: ref, size: o.size ?? 0, ref, extra: { checksum: false } };
  if (!o.ETag) throw new AmphoraError('invalid_reference', `${ref} has no ETag, so changes could not be detected; pass checksum: false to track it by URI only.`);
  const versionId = pinnedVersion(o.VersionId);
  return { path, digest: stripEtag(o.ETag), size: o.size ?? 0, ref, extra: versionId ? { etag: o.ETag, versionId } : { etag: o.ETag } };
}

/** Turns an SDK failure into an error that says what was wrong and what to do. */
export function s3Error(e: unknown, uri: string): AmphoraError {
  if (e instanceof AmphoraError) return e;
  const f = errorFacts(e);
  const { bucket } = parseCloudUri(uri);
  const endpoint = endpointFromEnv();
  if (f.name === 'CredentialsProviderError' || /Could not load credentials/i.test(f.message)) {
    return new AmphoraError(
      'unauthorized',
      `No AWS credentials to read ${uri}: references are read with your own credentials. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (a profile in ~/.aws/config), as for the aws CLI.`,
    );
  }
  if (f.name === 'NoSuchBucket') return new AmphoraError('not_found', `Bucket "${bucket}" does not exist (${uri}); check the bucket name${endpoint ? ` and the endpoint ${endpoint}` : ''}.`);
  if (f.name === 'NoSuchVersion') return new AmphoraError('not_found', `The recorded version of ${uri} no longer exists in the bucket (deleted or expired by a lifecycle rule); it cannot be downloaded any more.`);
  if (f.name === 'NoSuchKey' || f.name === 'NotFound' || f.status === 404) return new AmphoraError('not_found', `${uri} does not exist; check the key (and the bucket${endpoint ? ` on ${endpoint}` : ''}).`);
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden', 'ExpiredToken', 'InvalidToken'].includes(f.name) || f.status === 403 || f.status === 401) {
    return new AmphoraError('unauthorized', `S3 refused to let your AWS credentials read ${uri} (${f.name || f.status}: ${f.message}); check AWS_ACCESS_KEY_ID / AWS_PROFILE and that they may read this bucket.`);
  }
  if (isUnreachable(e)) return new AmphoraError('server_unreachable', `Cannot reach S3${endpoint ? ` at ${endpoint}` : ''} for ${uri} (${f.message}); check the network${endpoint ? ' and AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL' : ''}.`);
  return new AmphoraError('internal', `S3 failed on ${uri} (${f.name || 'error'}: ${f.message}).`);
}

async function isVersioned(sdk: S3Sdk, client: S3Client, bucket: string): Promise<boolean> {
  try {
    const r = await client.send(new sdk.GetBucketVersioningCommand({ Bucket: bucket }));
    return r.Status === 'Enabled' || r.Status === 'Suspended';
  } catch (e) {
    const f = errorFacts(e);
    // Stores without versioning (or a caller not allowed to ask) list plainly; ETags still guard.
    if (f.name === 'NoSuchBucket' || f.name === 'CredentialsProviderError' || isUnreachable(e)) throw e;
    return false;
  }
}

/** Every object under `prefix`, at most `max` (more is an error naming max_objects). */
async function listPrefix(bucket: string, prefix: string, opts: CloudRefOptions, shown: string): Promise<RefEntry[]> {
  const { sdk, client } = await s3();
  const max = maxObjectsOf(opts);
  const checksum = opts.checksum !== false;
  const out: RefEntry[] = [];
  const add = (o: { Key?: string; ETag?: string; Size?: number; VersionId?: string }) => {
    if (!o.Key || isFolderMarker(o.Key)) return;
    if (out.length >= max) throw tooManyObjects(shown, max);
    out.push(objectEntry(prefixedPath(prefix, o.Key, opts.name), bucket, o.Key, { ETag: o.ETag, size: o.Size, VersionId: o.VersionId }, checksum));
  };
  try {
    if (checksum && (await isVersioned(sdk, client, bucket))) {
      let KeyMarker: string | undefined;
      let VersionIdMarker: string | undefined;
      do {
        const page = await client.send(new sdk.ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker, VersionIdMarker }));
        for (const v of page.Versions ?? []) if (v.IsLatest) add(v);
        KeyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        VersionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
      } while (KeyMarker);
    } else {
      let ContinuationToken: string | undefined;
      do {
        const page = await client.send(new sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken }));
        for (const o of page.Contents ?? []) add(o);
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
    }
  } catch (e) {
    throw s3Error(e, shown);
  }
  return out;
}

/** Entries for `s3://bucket/key` (one object) or `s3://bucket/prefix/` (every object under it). */
export function resolveS3Reference(uri: string, opts: CloudRefOptions = {}): Promise<RefEntry[]> {
  return resolveCloudReference(uri, opts, {
    listPrefix: (bucket, prefix) => listPrefix(bucket, prefix, opts, uri),
    unchecked: (path, bucket, key) => objectEntry(path, bucket, key, {}, false),
    lookup: async (path, bucket, key) => {
      const { sdk, client } = await s3();
      try {
        const head = await client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: key }));
        return objectEntry(path, bucket, key, { ETag: head.ETag, size: head.ContentLength, VersionId: head.VersionId }, true);
      } catch (e) {
        const err = s3Error(e, uri);
        if (err.code !== 'not_found') throw err;
        return undefined;
      }
    },
  });
}

function changed(path: string, entry: ManifestEntry, now: string): AmphoraError {
  return new AmphoraError(
    'reference_changed',
    `Reference "${path}" at ${entry.ref} changed since it was logged: ETag was ${String(entry.extra?.etag ?? entry.digest)}, now ${now}. No VersionId was recorded to fetch the old content (enable versioning on the bucket to pin versions); log a new artifact version to track the new content.`,
  );
}

/** Fetches an s3:// entry into `tmp`, verifying what was recorded. */
export async function downloadS3Reference(path: string, entry: ManifestEntry, tmp: string): Promise<void> {
  const uri = entry.ref!;
  const { bucket, key } = parseCloudUri(uri);
  const checksum = entry.extra?.checksum !== false;
  const versionId = checksum ? pinnedVersion(entry.extra?.versionId) : undefined;
  const etag = typeof entry.extra?.etag === 'string' ? entry.extra.etag : `"${entry.digest}"`;
  const { sdk, client } = await s3();
  let res;
  try {
    // If-Match makes S3 refuse a changed object before sending it (stores that ignore it are
    // caught by the ETag check below).
    res = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId, IfMatch: checksum && !versionId ? etag : undefined }));
  } catch (e) {
    const f = errorFacts(e);
    if (f.name === 'PreconditionFailed' || f.status === 412) throw changed(path, entry, 'a different one');
    throw s3Error(e, uri);
  }
  const body = res.Body as Readable;
  if (checksum && (!res.ETag || stripEtag(res.ETag) !== entry.digest)) {
    body.destroy();
    throw changed(path, entry, res.ETag ?? 'missing');
  }
  // A single-part upload's ETag is the MD5 of its bytes, except under SSE-KMS or SSE-C.
  const md5 = checksum && /^[0-9a-f]{32}$/.test(entry.digest) && !String(res.ServerSideEncryption ?? '').startsWith('aws:kms') && !res.SSECustomerAlgorithm;
  const v = new VerifyingStream(md5 ? ['md5'] : []);
  try {
    await pipeline(body, v, createWriteStream(tmp));
  } catch (e) {
    throw s3Error(e, uri);
  }
  if (checksum && v.bytes !== entry.size) {
    throw new AmphoraError('digest_mismatch', `Reference "${path}" from ${uri} arrived with ${v.bytes} bytes, but ${entry.size} were recorded; retry the download.`);
  }
  const got = md5 ? v.digest('md5', 'hex') : undefined;
  if (got !== undefined && got !== entry.digest) {
    throw new AmphoraError('digest_mismatch', `Reference "${path}" from ${uri} arrived with MD5 ${got}, but its ETag says ${entry.digest}; the transfer was corrupted, retry the download.`);
  }
}
