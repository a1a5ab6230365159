/**
 * Which blob store the integration tests run against: the local folder (default) or, with
 * AMPHORA_TEST_BLOBS=s3, an S3 bucket on a real s3rver started once per test process. Each data
 * dir gets its own key prefix derived from its path, so a server restarted on the same data dir
 * finds its blobs again.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { startS3rver, type S3rverHandle } from './s3rver.js';

export const TEST_BLOBS: 'file' | 's3' = process.env.AMPHORA_TEST_BLOBS === 's3' ? 's3' : 'file';

let shared: Promise<S3rverHandle> | undefined;

/** The s3rver of this test process (started on first use, killed when the process exits). */
export function sharedS3rver(): Promise<S3rverHandle> {
  shared ??= startS3rver().then((h) => {
    h.applyEnv();
    process.once('exit', () => h.killSync());
    return h;
  });
  return shared;
}

/** `--blobs` for a test server on `dataDir`: undefined (local folder) or an s3:// location. */
export async function testBlobsFor(dataDir: string): Promise<string | undefined> {
  if (TEST_BLOBS !== 's3') return undefined;
  const h = await sharedS3rver();
  return `s3://${h.bucket}/${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 16)}`;
}

/** Skips a test that inspects the local blob folder itself when the suite runs against S3, saying why. */
export function localBlobsOnly(ctx: Mocha.Context, why: string): void {
  if (TEST_BLOBS !== 's3') return;
  if (ctx.test) ctx.test.title += ` [skipped with blobs in S3: ${why}]`;
  ctx.skip();
}
