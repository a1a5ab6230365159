/**
 * What a client accepts from a server. A server may be broken or hostile (a team server the user
 * does not run), and clients turn what it sends into file paths, cache keys and request targets;
 * so every manifest is held to the rules the server applies to uploads, plus the consistency the
 * client can check itself, before anything touches the disk.
 */
import { AmphoraError } from '../errors.js';
import { artifactDigest, SHA256_HEX, validateManifest, type Manifest } from './manifest.js';

/** Longest digest a reference entry may carry (an ETag, a generation, or the URI itself). */
export const MAX_REF_DIGEST = 2048;

function refuse(what: string, why: string): never {
  throw new AmphoraError(
    'invalid_manifest',
    `The server sent a manifest for ${what} that ${why}; nothing was written. The server is broken or not trustworthy: ask its administrator, or check AMPHORA_BASE_URL.`,
  );
}

/**
 * Checks a manifest a server sent: paths (relative POSIX, no `..`, no file that is also a
 * folder), sizes (safe whole numbers ≥ 0), digests (64 lowercase hex for stored bytes; a bounded
 * printable string for references), one size per digest, and — when the caller knows them — the
 * artifact digest, file count and total size of the version it asked for. Returns the total size.
 */
export function checkReceivedManifest(
  entries: Manifest,
  expected: { what: string; digest?: string; fileCount?: number; size?: number },
): number {
  const { what } = expected;
  let total: number;
  try {
    total = validateManifest(entries);
  } catch (e) {
    if (e instanceof AmphoraError) refuse(what, `breaks the artifact rules (${e.message})`);
    throw e;
  }
  // One size per digest is validateManifest's rule (shared with the server's upload check).
  for (const [p, e] of Object.entries(entries)) {
    if (typeof e.digest !== 'string' || e.digest.length === 0 || e.digest.length > MAX_REF_DIGEST) {
      refuse(what, `gives "${p.slice(0, 200)}" an empty or over-long digest`);
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(e.digest)) refuse(what, `gives "${p.slice(0, 200)}" a digest with control characters`);
  }
  if (!Number.isSafeInteger(total)) refuse(what, 'adds up to more bytes than a client can count');
  const count = Object.keys(entries).length;
  if (expected.fileCount !== undefined && expected.fileCount !== count) {
    refuse(what, `has ${count} files where the version says ${expected.fileCount}`);
  }
  if (expected.size !== undefined && expected.size !== total) {
    refuse(what, `adds up to ${total} bytes where the version says ${expected.size}`);
  }
  if (expected.digest !== undefined) {
    const got = artifactDigest(entries);
    if (got !== expected.digest) refuse(what, `hashes to artifact digest ${got}, not the version's ${expected.digest}`);
  }
  return total;
}

/** Throws unless `digest` can name a blob (a cache file, a blob route): 64 lowercase hex. */
export function requireBlobDigest(digest: unknown, what = 'a blob'): string {
  if (typeof digest === 'string' && SHA256_HEX.test(digest)) return digest;
  const shown = typeof digest === 'string' ? JSON.stringify(digest.slice(0, 80)) : String(digest);
  throw new AmphoraError(
    'invalid_manifest',
    `Refusing ${what} named ${shown}: blobs are named by their SHA-256 (64 lowercase hex characters). The server sent a malformed digest; ask its administrator.`,
  );
}

/**
 * Where a client may send or fetch blob bytes: the server's own origin, or a storage URL the
 * server handed out for that very blob (`handedOut`: a presigned bucket URL in team mode). When
 * the user names their storage (AMPHORA_STORAGE_ORIGINS), handed-out URLs must be on one of those
 * origins. Anything else — another host the server merely mentions, a scheme other than http(s),
 * credentials in the URL — is refused, so a server cannot point a client's requests at arbitrary
 * machines. Returns the absolute URL.
 */
export function checkTransferUrl(url: string, serverBase: string, storageOrigins: ReadonlySet<string> = new Set(), handedOut = false): URL {
  let u: URL;
  try {
    u = new URL(url, serverBase.replace(/\/*$/, '/'));
  } catch {
    throw new AmphoraError('invalid_request', `The server handed out a transfer URL that is not a URL (${JSON.stringify(url.slice(0, 200))}); refusing it. Ask the server's administrator.`);
  }
  const server = new URL(serverBase);
  const bad = (why: string): never => {
    throw new AmphoraError(
      'invalid_request',
      `The server handed out transfer URL ${u.origin}${u.pathname.slice(0, 120)}, which ${why}; refusing to send requests there. If that is your team's storage, add its origin to AMPHORA_STORAGE_ORIGINS (comma-separated, e.g. https://bucket.s3.amazonaws.com).`,
    );
  };
  if (u.protocol !== 'http:' && u.protocol !== 'https:') bad(`uses ${u.protocol} instead of http(s)`);
  if (u.username || u.password) bad('carries credentials');
  if (u.origin === server.origin || storageOrigins.has(u.origin)) return u;
  if (!handedOut) bad(`is neither the server (${server.origin}) nor a storage URL handed out for this blob`);
  if (storageOrigins.size) bad(`is not one of the storage origins you allowed (AMPHORA_STORAGE_ORIGINS)`);
  return u;
}

/** Parses AMPHORA_STORAGE_ORIGINS ("https://a, https://b:9000") into origins. */
export function storageOriginsFrom(env: Record<string, string | undefined>): Set<string> {
  const out = new Set<string>();
  for (const part of (env.AMPHORA_STORAGE_ORIGINS ?? '').split(',')) {
    const s = part.trim();
    if (!s) continue;
    try {
      out.add(new URL(s).origin);
    } catch {
      throw new AmphoraError('invalid_request', `AMPHORA_STORAGE_ORIGINS holds "${s}", which is not a URL; write origins such as https://bucket.example.com, separated by commas.`);
    }
  }
  return out;
}
