/**
 * Turns the `--db` and `--blobs` URIs into the store implementations:
 *   --db pglite:DIR (embedded default: <dataDir>/db)  |  --db postgres://USER:PW@HOST:PORT/DB (team)
 *   --blobs file:DIR (default: <dataDir>/blobs)  |  --blobs s3://BUCKET[/PREFIX] (S3-compatible; AWS environment)
 * Team mode (a PostgreSQL database) keeps no state in the process that replicas would need to
 * share: no data-dir lock, no discovery file, events and cache invalidation over LISTEN/NOTIFY.
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AmphoraError } from '../core/errors.js';
import type { BlobStore } from './blobs/blobStore.js';
import { LocalBlobStore } from './blobs/localBlobs.js';
import { parseS3Location, S3BlobStore } from './blobs/s3Blobs.js';
import { EventBus } from './events.js';
import { ReplicatedEventBus } from './replicaEvents.js';
import type { Database } from './store/database.js';
import { PgliteDatabase } from './store/pglite.js';
import { PostgresDatabase } from './store/postgres.js';

export type DbLocation = { kind: 'pglite'; dir: string } | { kind: 'postgres'; url: string };
export type BlobLocation = { kind: 'file'; dir: string } | { kind: 's3'; location: string };

export interface Backend {
  mode: 'embedded' | 'team';
  db: Database;
  blobs: BlobStore;
  events: EventBus;
  /** What the server should log once it can (a damaged pack moved aside at start, say). */
  warnings: string[];
  close(): Promise<void>;
}

const DB_FORMS = 'use postgres://USER:PASSWORD@HOST:PORT/DATABASE (team server) or pglite:DIR (embedded)';
const BLOB_FORMS = 'use s3://BUCKET[/PREFIX] (an S3-compatible bucket) or file:DIR (a folder every replica can reach)';
/** S3 refuses parts below 5 MiB (except the last). */
const S3_MIN_PART_BYTES = 5 << 20;

/** Parses `--db` / AMPHORA_DB_URL; undefined means the embedded default under the data dir. */
export function parseDbUri(uri: string | undefined, dataDir: string | undefined): DbLocation {
  if (uri === undefined || uri === '') {
    if (!dataDir) throw new AmphoraError('invalid_request', `No database given: pass --db (${DB_FORMS}) or a data dir.`);
    return { kind: 'pglite', dir: join(dataDir, 'db') };
  }
  if (/^postgres(ql)?:\/\//i.test(uri)) {
    let u: URL;
    try {
      u = new URL(uri);
    } catch {
      throw new AmphoraError('invalid_request', `--db "${redact(uri)}" is not a valid URL; ${DB_FORMS}.`);
    }
    if (!u.hostname && !u.searchParams.get('host')) throw new AmphoraError('invalid_request', `--db "${redact(uri)}" names no host; ${DB_FORMS}.`);
    if (u.pathname.length <= 1) throw new AmphoraError('invalid_request', `--db "${redact(uri)}" names no database; add it after the host, e.g. postgres://amphora@db:5432/amphora.`);
    return { kind: 'postgres', url: uri };
  }
  if (/^pglite:/i.test(uri)) {
    const dir = pathOf(uri.slice('pglite:'.length), 'pglite');
    return { kind: 'pglite', dir };
  }
  throw new AmphoraError('invalid_request', `--db "${redact(uri)}" is not a database this server knows; ${DB_FORMS}.`);
}

/** Parses `--blobs` / AMPHORA_BLOBS; undefined means `<dataDir>/blobs` (embedded only). */
export function parseBlobsUri(uri: string | undefined, dataDir: string | undefined): BlobLocation {
  if (uri === undefined || uri === '') {
    if (!dataDir) throw new AmphoraError('invalid_request', `A team server needs --blobs (or AMPHORA_BLOBS) so every replica stores bytes in the same place; ${BLOB_FORMS}.`);
    return { kind: 'file', dir: join(dataDir, 'blobs') };
  }
  if (/^file:/i.test(uri)) return { kind: 'file', dir: pathOf(uri.startsWith('file://') ? fileURLToPath(uri) : uri.slice('file:'.length), 'file') };
  if (/^s3:\/\//i.test(uri)) {
    parseS3Location(uri); // refuses a malformed bucket name now, with the forms it takes
    return { kind: 's3', location: uri };
  }
  throw new AmphoraError('invalid_request', `--blobs "${uri}" is not a blob store this server knows; ${BLOB_FORMS}.`);
}

function pathOf(raw: string, scheme: string): string {
  if (!raw) throw new AmphoraError('invalid_request', `"${scheme}:" needs a folder, e.g. ${scheme}:/var/lib/amphora/${scheme === 'file' ? 'blobs' : 'db'}.`);
  return isAbsolute(raw) ? raw : resolve(raw);
}

/** The store implementations for these locations; on failure nothing stays open. */
export async function openBackend(dbLoc: DbLocation, blobLoc: BlobLocation): Promise<Backend> {
  // A bucket is checked (exists, reachable, credentials) before the database is touched.
  const s3 = blobLoc.kind === 's3' ? await openS3(blobLoc.location) : undefined;
  let db: Database;
  let events: EventBus;
  if (dbLoc.kind === 'postgres') {
    const pgDb = await PostgresDatabase.open(dbLoc.url);
    db = pgDb;
    events = new ReplicatedEventBus(pgDb);
  } else {
    db = await PgliteDatabase.open(dbLoc.dir);
    events = new EventBus();
  }
  try {
    let blobs: BlobStore;
    const warnings: string[] = [];
    if (s3) {
      s3.attach(db);
      blobs = s3;
    } else {
      const dir = (blobLoc as { dir: string }).dir;
      const local = new LocalBlobStore(dir);
      const { damagedPacks } = await local.init({ sole: dbLoc.kind !== 'postgres' }).catch((e: NodeJS.ErrnoException) => {
        throw new AmphoraError('invalid_request', `Cannot use the blob folder ${dir}: ${e.code ?? e.message}. Check that it exists or can be created and is writable.`);
      });
      for (const d of damagedPacks) {
        warnings.push(`Pack ${d.file} is damaged (${d.why}) and was moved to ${join(dir, 'damaged')}; its blobs count as missing, so clients upload them again. Versions that need them fail to download until then.`);
      }
      blobs = local;
    }
    return {
      mode: dbLoc.kind === 'postgres' ? 'team' : 'embedded',
      db,
      blobs,
      events,
      warnings,
      async close() {
        await events.close().catch(() => undefined);
        await blobs.flush().catch(() => undefined);
        s3?.close();
        await db.close();
      },
    };
  } catch (e) {
    await events.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    s3?.close();
    throw e;
  }
}

/** The S3 store, checked: bucket reachable, credentials accepted, checksum enforcement probed. */
async function openS3(location: string): Promise<S3BlobStore> {
  const store = new S3BlobStore({
    location,
    // Large uploads through a replica spill here while they are verified.
    tmpDir: join(tmpdir(), `amphora-upload-${process.pid}-${randomBytes(4).toString('hex')}`),
    multipartThreshold: byteCount('AMPHORA_S3_MULTIPART_THRESHOLD', S3_MIN_PART_BYTES + 1),
    partSize: byteCount('AMPHORA_S3_PART_SIZE', S3_MIN_PART_BYTES),
    directMinBytes: byteCount('AMPHORA_S3_DIRECT_MIN', 0),
  });
  try {
    await store.init();
  } catch (e) {
    store.close();
    throw e;
  }
  return store;
}

/** A size in bytes from the environment (tuning for S3 transfers), or undefined when unset. */
function byteCount(name: string, min: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new AmphoraError('invalid_request', `${name}=${raw} must be a whole number of bytes, at least ${min}.`);
  return n;
}

function redact(uri: string): string {
  return uri.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}
