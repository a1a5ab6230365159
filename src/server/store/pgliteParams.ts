/** PGlite's start parameters, shared by the server and the initdb child (which loads nothing else of the store). */

/**
 * Postgres' default 128 MB of shared buffers is allocated and touched inside PGlite's WASM heap at
 * start, so it is resident for the server's whole life. The embedded database holds metadata only
 * (blobs live in files) and reads what it misses from the OS page cache: 16 MB takes the idle server
 * from ~310 to ~200 MiB RSS (bench/pglite-memory.mts). PGlite's WASM heap cannot start below its
 * own 128 MiB minimum, so there is nothing to gain from `initialMemory`.
 */
export const MEMORY_SETTINGS = ['-c', 'shared_buffers=16MB'];

/**
 * PGlite starts Postgres with -F (fsync off): a power cut could lose versions the server had
 * already acknowledged, while their blobs were on disk. The server keeps fsync on (SPEC: a version
 * is acknowledged only once durable) and syncs the WAL with fsync(2), the one sync call that
 * reaches the disk here (PrivateNodeFS). Cost per commit: bench/pglite-commit.mts.
 */
export const DURABLE_SETTINGS = ['-c', 'fsync=on', '-c', 'wal_sync_method=fsync'];

/** PGlite's start parameters without its -F, plus ours. */
export function startParams(defaults: readonly string[], durable = true): string[] {
  return [...(durable ? defaults.filter((p) => p !== '-F') : defaults), ...MEMORY_SETTINGS, ...(durable ? DURABLE_SETTINGS : [])];
}

