import { AmphoraError } from '../../core/errors.js';

/**
 * The one answer to a commit naming blobs the server lacks (or the caller may not read, which must
 * look the same): how many, the first, what to do, and up to 1,000 of them for the client to upload.
 */
export function missingBlobsError(missing: { digest: string; size: number }[]): AmphoraError {
  return new AmphoraError(
    'missing_blobs',
    `${missing.length} file(s) of this version are not on the server yet (first: ${missing[0].digest}, ${missing[0].size} bytes). ` +
      'Upload them (POST /api/v1/blobs/negotiate, then PUT each missing blob and confirm those uploaded straight to storage) and commit again.',
    { missing: missing.slice(0, 1000) },
  );
}
