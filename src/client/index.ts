/** The Amphora TypeScript SDK. */
export { init, Run, type InitOptions } from './run.js';
export { Artifact, ArtifactEntry, NewFile } from './artifact.js';
export type { CacheOptions, CachePolicy } from './artifact.js';
export { materialize, type DownloadStats } from './download.js';
export { Api } from './api.js';
export { Registry } from './registry.js';
export { AmphoraHttp, unreachableError } from './http.js';
export { resolveConnection, type Connection } from './connection.js';
export { subscribeEvents } from './events.js';
export { Client, defaultClient, resetDefaultClient, type ClientOptions } from './client.js';
export { BlobCache, parseSize } from './cache.js';
export { StatCache, hashFile } from './hash.js';
export { AmphoraError, CommError, EntryNotFoundError } from '../core/errors.js';
