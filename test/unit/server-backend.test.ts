import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { isAmphoraError } from '../../src/core/errors.js';
import { parseBlobsUri, parseDbUri } from '../../src/server/backend.js';

const refused = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(isAmphoraError(e) && e.code === 'invalid_request', String(e));
    assert.match(e.message, pattern);
    assert.doesNotMatch(e.message, /s3cret/, 'no password in messages');
    return true;
  });

describe('server backend URIs (--db, --blobs)', () => {
  it('--db: embedded default under the data dir, pglite:DIR, postgres:// and postgresql:// URLs', () => {
    assert.deepEqual(parseDbUri(undefined, '/data'), { kind: 'pglite', dir: join('/data', 'db') });
    assert.deepEqual(parseDbUri('', '/data'), { kind: 'pglite', dir: join('/data', 'db') });
    assert.deepEqual(parseDbUri('pglite:/srv/db', '/data'), { kind: 'pglite', dir: '/srv/db' });
    assert.deepEqual(parseDbUri('pglite:rel/db', undefined), { kind: 'pglite', dir: resolve('rel/db') });
    const url = 'postgres://amphora:s3cret@db.internal:5432/amphora?sslmode=require';
    assert.deepEqual(parseDbUri(url, '/data'), { kind: 'postgres', url });
    assert.equal(parseDbUri('postgresql://u@h/d', undefined).kind, 'postgres');
  });

  it('--db: refuses what it cannot use, naming the accepted forms and hiding the password', () => {
    refused(() => parseDbUri('mysql://u:s3cret@h/d', '/data'), /not a database this server knows; use postgres:\/\/USER:PASSWORD@HOST:PORT\/DATABASE .* or pglite:DIR/);
    refused(() => parseDbUri('postgres://u:s3cret@h:5432', '/data'), /names no database; add it after the host/);
    refused(() => parseDbUri('postgres://u:s3cret@h:notaport/d', '/data'), /is not a valid URL/);
    refused(() => parseDbUri('pglite:', '/data'), /needs a folder/);
    refused(() => parseDbUri(undefined, undefined), /No database given/);
  });

  it('--blobs: <dataDir>/blobs by default, file:DIR and file:// URLs; a team server must name one', () => {
    assert.deepEqual(parseBlobsUri(undefined, '/data'), { kind: 'file', dir: join('/data', 'blobs') });
    assert.deepEqual(parseBlobsUri('file:/mnt/blobs', undefined), { kind: 'file', dir: '/mnt/blobs' });
    assert.deepEqual(parseBlobsUri('file:///mnt/blobs', undefined), { kind: 'file', dir: '/mnt/blobs' });
    refused(() => parseBlobsUri(undefined, undefined), /team server needs --blobs \(or AMPHORA_BLOBS\)/);
    refused(() => parseBlobsUri('ftp://x', undefined), /not a blob store this server knows; use s3:\/\/BUCKET\[\/PREFIX\] .* or file:DIR/);
  });

  it('--blobs s3://BUCKET[/PREFIX]: accepted as given; a malformed bucket is refused with the forms it takes', () => {
    assert.deepEqual(parseBlobsUri('s3://team-artifacts/amphora', undefined), { kind: 's3', location: 's3://team-artifacts/amphora' });
    assert.deepEqual(parseBlobsUri('s3://team-artifacts', '/data'), { kind: 's3', location: 's3://team-artifacts' });
    refused(() => parseBlobsUri('s3://', undefined), /use s3:\/\/BUCKET or s3:\/\/BUCKET\/PREFIX/);
    refused(() => parseBlobsUri('s3://Not_A_Bucket/x', undefined), /bucket: 3–63 lowercase letters/);
  });
});
