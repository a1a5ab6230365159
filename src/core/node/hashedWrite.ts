/**
 * Streams bytes to a file while hashing them: what the server does with an upload and the client
 * with a download. Network chunks (≤ 64 KiB) are gathered into ~4 MiB writev calls with one write
 * in flight while the next batch fills, so receiving never waits on the disk, memory stays at about
 * two batches, and the thread pool sees one write per 4 MiB instead of one per chunk (one awaited
 * write per 64 KiB chunk cost ~2.9 s CPU per GiB received).
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

export const WRITE_BATCH_BYTES = 4 << 20;

/**
 * Hashes every chunk of `source` (SHA-256) and writes it to `fh` (none: hash only; several: each
 * batch goes to all of them at once, e.g. a download's destination and its cache copy). `accept`
 * sees each chunk first with the running byte count: throw to stop (the error is rethrown once the
 * writes in flight settled), return false to hash a chunk without writing it. The caller owns `fh`.
 */
export async function hashIntoFile(
  source: AsyncIterable<Buffer>,
  fh: FileHandle | readonly FileHandle[] | undefined,
  accept?: (chunk: Buffer, received: number) => boolean | void,
): Promise<{ digest: string; size: number }> {
  const files: readonly FileHandle[] = fh === undefined ? [] : Array.isArray(fh) ? fh : [fh as FileHandle];
  const hash = createHash('sha256');
  let received = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let writing: Promise<void> = Promise.resolve();
  const startWrite = async (bufs: Buffer[]) => {
    await writing;
    writing = files.length === 1 ? writevFully(files[0], bufs) : writeAll(files, bufs);
    writing.catch(() => undefined); // observed by the next await; never unhandled
  };
  try {
    for await (const chunk of source) {
      received += chunk.length;
      const write = accept?.(chunk, received) !== false && files.length > 0;
      hash.update(chunk);
      if (!write) continue;
      batch.push(chunk);
      batchBytes += chunk.length;
      if (batchBytes >= WRITE_BATCH_BYTES) {
        await startWrite(batch);
        batch = [];
        batchBytes = 0;
      }
    }
    if (batch.length) await startWrite(batch);
    await writing;
  } catch (e) {
    await writing.catch(() => undefined);
    throw e;
  }
  return { digest: hash.digest('hex'), size: received };
}

/** The same batch to every file; settles only once each write did (the caller may close them next). */
async function writeAll(files: readonly FileHandle[], bufs: readonly Buffer[]): Promise<void> {
  const failed = (await Promise.allSettled(files.map((f) => writevFully(f, bufs)))).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** writev until every byte is written (a regular file may accept fewer bytes at once). */
export async function writevFully(fh: FileHandle, bufs: readonly Buffer[]): Promise<void> {
  // A copy of the list: a short write trims it, and other files may be writing the same batch.
  let rest = bufs.slice();
  while (rest.length) {
    const { bytesWritten } = await fh.writev(rest);
    if (!bytesWritten) throw new Error('the disk accepted no bytes');
    let n = bytesWritten;
    let i = 0;
    while (i < rest.length && n >= rest[i].length) n -= rest[i++].length;
    rest = rest.slice(i);
    if (n > 0) rest[0] = rest[0].subarray(n);
  }
}
