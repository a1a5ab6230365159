/**
 * The data dir holds the API key, the database and every blob: only its owner may read or
 * write anything in it. New files are private through the process umask; files left readable
 * by an older server (PGlite writes 0666 & ~umask) are fixed once, then a marker says so.
 */
import { chmodSync, existsSync, lstatSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PRIVATE_UMASK = 0o077;
const MARKER = '.private-modes';

/** Sets the umask of this process so everything it creates is owner-only (0600 / 0700). */
export function usePrivateUmask(): void {
  process.umask(PRIVATE_UMASK);
}

/**
 * Makes `dataDir` 0700 and, unless an earlier start already did, removes group/other bits from
 * everything under it (symbolic links are not followed). Returns how many entries it changed.
 */
export function makeDataDirPrivate(dataDir: string): number {
  const wasPrivate = (statSync(dataDir).mode & 0o777) === 0o700;
  chmodSync(dataDir, 0o700);
  const marker = join(dataDir, MARKER);
  if (wasPrivate && existsSync(marker)) return 0;
  let changed = 0;
  let complete = true;
  const stack = [dataDir];
  while (stack.length) {
    const dir = stack.pop()!;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isSymbolicLink()) continue;
      const path = join(dir, entry.name);
      const mode = lstatSync(path, { throwIfNoEntry: false })?.mode;
      if (mode === undefined) continue;
      if (mode & 0o077) {
        try {
          chmodSync(path, mode & 0o700);
          changed++;
        } catch {
          // Not ours (e.g. left by another user): the 0700 data dir still keeps others out;
          // no marker, so the next start tries again.
          complete = false;
        }
      }
      if (entry.isDirectory()) stack.push(path);
    }
  }
  if (complete) writeFileSync(marker, 'Everything under this folder was made owner-only; new files stay so (umask 077).\n', { mode: 0o600 });
  return changed;
}
