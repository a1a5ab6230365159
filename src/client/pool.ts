// The pool itself lives in core (the server uses it too); here: the client's parallelism.
export { mapPool } from '../core/pool.js';

/** Default parallelism for transfers: enough to hide latency on keep-alive connections. */
export const TRANSFER_CONCURRENCY = 12;
/** Hashing and stat work on local disks. */
export const LOCAL_CONCURRENCY = 16;

/**
 * Lets I/O callbacks run when synchronous work has held the thread for a few milliseconds.
 * Small files are hashed with plain syscalls inside promise chains, which never yield by
 * themselves: without this a put hashed all 10,000 files before sending its first upload.
 */
export class LoopYield {
  private last = performance.now();
  constructor(private readonly everyMs = 4) {}

  async maybe(): Promise<void> {
    if (performance.now() - this.last < this.everyMs) return;
    await new Promise<void>((r) => setImmediate(r));
    this.last = performance.now();
  }
}
