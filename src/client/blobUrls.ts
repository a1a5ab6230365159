/**
 * The one place that decides where a blob's bytes may be sent to or fetched from. A server URL
 * is only ever our own blob route for that very digest, reached through our own connection with
 * the API key; a storage URL (presigned S3) is used only when the server handed it out for that
 * blob (a negotiation entry with a confirm token or parts, or the redirect of that blob's GET),
 * and never carries the API key. checkTransferUrl (core/received.ts) holds the scheme, credential
 * and origin rules (AMPHORA_STORAGE_ORIGINS narrows storage to the user's own buckets).
 */
import * as api from '../core/api.js';
import { AmphoraError } from '../core/errors.js';
import { checkTransferUrl } from '../core/received.js';

export type BlobTarget = { own: true; path: string } | { own: false; url: string };

export function blobTarget(
  url: string,
  server: { baseUrl: string; prefix: string; storageOrigins?: ReadonlySet<string> },
  digest: string,
  handedOut: boolean,
): BlobTarget {
  // Scheme, credentials and origin (server, or storage handed out for this blob) in one place.
  const u = checkTransferUrl(url, server.baseUrl, server.storageOrigins, handedOut);
  const own = stripPrefix(u.pathname, server.prefix) === api.routes.blob(digest);
  const sameOrigin = u.origin === new URL(server.baseUrl).origin;
  // Whatever host name the server put in its own URL, its own route goes to our connection.
  if (own && (!handedOut || sameOrigin)) return { own: true, path: api.routes.blob(digest) + u.search };
  if (handedOut && !sameOrigin) return { own: false, url: u.href };
  throw refuse(digest, url, "is neither the server's route for this blob nor a storage URL handed out for it");
}

function refuse(digest: string, url: string, why: string): AmphoraError {
  return new AmphoraError(
    'internal',
    `The server pointed blob ${digest.slice(0, 12)}… at ${url.slice(0, 200)}, which ${why}; refusing to transfer it. Check that AMPHORA_BASE_URL is an Amphora server you trust.`,
  );
}

export function stripPrefix(p: string, prefix: string): string {
  return prefix && p.startsWith(prefix + '/') ? p.slice(prefix.length) : p;
}
