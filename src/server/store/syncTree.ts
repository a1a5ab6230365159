/**
 * fsync for a folder written without it (PGlite's initdb runs with fsync off): every file, then
 * every folder bottom-up so their entries are on disk too, as `initdb`'s own sync step does.
 */
import { closeSync, fsyncSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** fsyncs every regular file and folder under `dir` (and `dir` itself); returns how many. */
export function syncTree(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += syncTree(p);
    else if (e.isFile()) n += syncPath(p);
  }
  return n + syncPath(dir);
}

/** fsync of one file or folder (a folder's fsync makes its entries, e.g. a rename into it, durable). */
export function syncPath(p: string): number {
  const fd = openSync(p, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return 1;
}
