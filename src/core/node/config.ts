/**
 * Where things live on disk and how local clients find the server. Shared by the server, the
 * TypeScript SDK, the CLI and the extension; the Python client mirrors these rules exactly.
 *
 * - Data dir (server):  $AMPHORA_DATA_DIR, else $XDG_DATA_HOME/amphora, else ~/.local/share/amphora
 * - Discovery file:     <data dir>/server.json  (mode 0600: {url, apiKey, pid, dataDir, version, startedAt})
 * - Cache dir (client): $AMPHORA_CACHE_DIR, else $XDG_CACHE_HOME/amphora, else ~/.cache/amphora
 * - Cached blob:        <cache dir>/blobs/sha256/<first two hex>/<64 hex> (large, or hard-linked)
 * - Cached small blobs: <cache dir>/packs/<32 hex>.pack (core/node/packFormat.ts; client/cachePacks.ts)
 * - Connection:         $AMPHORA_BASE_URL + $AMPHORA_API_KEY win over the discovery file.
 */
import { join } from 'node:path';
import { defaultDataDir } from './dirs.js';
import { z } from 'zod';
import { requireBlobDigest } from './received.js';

export const DISCOVERY_FILE = 'server.json';

export const Discovery = z.object({
  url: z.string(),
  apiKey: z.string(),
  pid: z.number().int(),
  dataDir: z.string(),
  version: z.string(),
  startedAt: z.string(),
});
export type Discovery = z.infer<typeof Discovery>;

export { defaultCacheDir, defaultDataDir } from './dirs.js';

export function discoveryPath(dataDir: string = defaultDataDir()): string {
  return join(dataDir, DISCOVERY_FILE);
}

/** The one place a cache key becomes a path: anything but 64 lowercase hex is refused. */
export function cachedBlobPath(cacheDir: string, sha256hex: string): string {
  requireBlobDigest(sha256hex, 'a cache entry');
  return join(cacheDir, 'blobs', 'sha256', sha256hex.slice(0, 2), sha256hex);
}

export { DEFAULT_PORT, DEFAULT_PROJECT } from '../defaults.js';
