import assert from 'node:assert/strict';
import { AmphoraError } from '../../src/core/errors.js';
import { maxObjectsOf, objectPath, parseCloudUri, prefixedPath } from '../../src/client/references/cloud.js';
import { referenceScheme } from '../../src/client/references.js';

const isCode = (c: string) => (e: unknown) => e instanceof AmphoraError && e.code === c;

describe('cloud reference URIs', () => {
  it('parses bucket and key verbatim (no percent-decoding: keys are raw)', () => {
    assert.deepEqual(parseCloudUri('s3://b/data/train.csv'), { scheme: 's3', bucket: 'b', key: 'data/train.csv' });
    assert.deepEqual(parseCloudUri('gs://b/pre fix/%41.txt'), { scheme: 'gs', bucket: 'b', key: 'pre fix/%41.txt' });
    assert.deepEqual(parseCloudUri('s3://b'), { scheme: 's3', bucket: 'b', key: '' });
    assert.deepEqual(parseCloudUri('s3://b/'), { scheme: 's3', bucket: 'b', key: '' });
    for (const bad of ['s3://', 's3:///key', 'gs:/b/k', 'S3://b/k']) assert.throws(() => parseCloudUri(bad), isCode('invalid_reference'), bad);
  });

  it('names an object by its last segment (or name), and a listed object by its key under the prefix', () => {
    assert.equal(objectPath('a/b/c.csv', undefined), 'c.csv');
    assert.equal(objectPath('a/b/c.csv', 'x.csv'), 'x.csv');
    assert.equal(prefixedPath('ds/', 'ds/sub/b.txt', undefined), 'sub/b.txt');
    assert.equal(prefixedPath('ds/', 'ds/sub/b.txt', 'raw'), 'raw/sub/b.txt');
    assert.equal(prefixedPath('', 'top.txt', undefined), 'top.txt');
    // A key that is no valid artifact path is refused with the path rules' message.
    assert.throws(() => prefixedPath('ds/', 'ds/a//b.txt', undefined), isCode('invalid_path'));
    assert.throws(() => prefixedPath('ds/', 'ds/../escape', undefined), isCode('invalid_path'));
  });

  it('max_objects defaults to 10,000 and must be a whole number >= 1', () => {
    assert.equal(maxObjectsOf({}), 10_000);
    assert.equal(maxObjectsOf({ maxObjects: 3 }), 3);
    for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => maxObjectsOf({ maxObjects: bad }), isCode('invalid_request'), String(bad));
  });

  it('tells URIs from paths by their scheme', () => {
    assert.equal(referenceScheme('s3://b/k'), 's3');
    assert.equal(referenceScheme('GS://b/k'), 'gs');
    assert.equal(referenceScheme('ftp://h/f'), 'ftp');
    assert.equal(referenceScheme('data/train.csv'), undefined);
    assert.equal(referenceScheme('C:\\data\\train.csv'), undefined);
  });
});
