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
import { checkTransferUrl } from '../core/node/received.js';

export type BlobTarget = { own: true; path: string } | { own: false; url: string };

export function blobTarget(
  url: string,
  server: { baseUrl: string; prefix: string; storageOrigins?: ReadonlySet<string> },
  digest: string,
  handedOut: boolean,
): BlobTarget {
  let u: URL;
  try {
    u = new URL(url, server.baseUrl + '/');
  } catch {
    throw refuse(digest, url, 'is not a URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw refuse(digest, url, `uses ${u.protocol}`);
  const own = stripPrefix(u.pathname, server.prefix) === api.routes.blob(digest);
  // Whatever host name the server put in its own URL, its own route goes to our connection.
  if (own && (!handedOut || u.origin === new URL(server.baseUrl).origin)) return { own: true, path: api.routes.blob(digest) + u.search };
  if (!handedOut) throw refuse(digest, url, "is neither the server's route for this blob nor a storage URL handed out for it");
  // Storage: no credentials in the URL, and on the user's storage origins when they named any.
  return { own: false, url: checkTransferUrl(u.href, server.baseUrl, server.storageOrigins, true).href };
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
