import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { open, rm, stat } from 'node:fs/promises';

/** Flips the first byte of a file and sets its mtime back: size, mtime and inode stay the same. */
export async function flipFirstByteKeepingMtime(file: string): Promise<void> {
  const before = await stat(file);
  // `touch -r` copies timestamps to the nanosecond (utimes from JS numbers would round them).
  const ref = `${file}.times`;
  execFileSync('touch', ['-r', file, ref]);
  const fh = await open(file, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, 0);
  b[0] ^= 1;
  await fh.write(b, 0, 1, 0);
  await fh.close();
  execFileSync('touch', ['-r', ref, file]);
  await rm(ref);
  const after = await stat(file);
  assert.deepEqual([after.size, after.mtimeMs, after.ino], [before.size, before.mtimeMs, before.ino]);
}

