// The pool itself lives in core (the server uses it too); here: the client's parallelism.
export { mapPool } from '../core/pool.js';

/** Default parallelism for transfers: enough to hide latency on keep-alive connections. */
export const TRANSFER_CONCURRENCY = 12;
/** Hashing and stat work on local disks. */
export const LOCAL_CONCURRENCY = 16;
