import assert from 'node:assert/strict';
import { blobTarget } from '../../src/client/blobUrls.js';
import { AmphoraError } from '../../src/core/errors.js';

const D = 'ab'.repeat(32);
const OTHER = 'cd'.repeat(32);
const server = { baseUrl: 'http://127.0.0.1:7411', prefix: '' };
const refused = (e: unknown) => e instanceof AmphoraError && /refusing to transfer it/.test(e.message);

describe('blobTarget: where a blob may be sent to or fetched from', () => {
  it('the server\'s own route for this digest goes through our connection, whatever host the server named', () => {
    assert.deepEqual(blobTarget(`http://localhost:7411/api/v1/blobs/${D}`, server, D, false), { own: true, path: `/api/v1/blobs/${D}` });
    assert.deepEqual(blobTarget(`/api/v1/blobs/${D}`, server, D, false), { own: true, path: `/api/v1/blobs/${D}` });
    assert.deepEqual(blobTarget(`http://x/base/api/v1/blobs/${D}`, { baseUrl: 'http://x/base', prefix: '/base' }, D, false), { own: true, path: `/api/v1/blobs/${D}` });
  });
  it('a storage URL handed out for the blob is used as given (no API key: not our origin)', () => {
    const url = `http://127.0.0.1:9000/bucket/staging/${D}.n?X-Amz-Signature=x`;
    assert.deepEqual(blobTarget(url, server, D, true), { own: false, url });
  });
  it('refuses a foreign URL the server did not hand out as a storage URL, another blob\'s route, and non-HTTP schemes', () => {
    assert.throws(() => blobTarget('http://evil.example/collect', server, D, false), refused);
    assert.throws(() => blobTarget(`/api/v1/blobs/${OTHER}`, server, D, false), refused);
    assert.throws(() => blobTarget('/api/v1/projects', server, D, false), refused);
    assert.throws(() => blobTarget('file:///etc/passwd', server, D, true), refused);
  });
});
