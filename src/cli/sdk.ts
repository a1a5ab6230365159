/**
 * Everything the CLI's commands need beyond argument parsing, loaded on first use (`await sdk()`
 * in main.ts): `amphora --help` and usage errors then never parse undici, zod or the SDK.
 */
export { Api } from '../client/api.js';
export { Artifact } from '../client/artifact.js';
export { BlobCache, parseSize } from '../client/cache.js';
export { StatCache } from '../client/hash.js';
export { Client } from '../client/client.js';
export { referenceScheme } from '../client/references.js';
export { defaultCacheDir, defaultDataDir } from '../core/node/config.js';
export { syncOfflineRun } from './sync.js';
