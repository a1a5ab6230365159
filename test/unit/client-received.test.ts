import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { BlobCache } from '../../src/client/cache.js';
import { StatCache } from '../../src/client/hash.js';
import * as api from '../../src/core/api.js';
import { cachedBlobPath } from '../../src/core/node/config.js';
import { AmphoraError } from '../../src/core/errors.js';
import { artifactDigest, type Manifest } from '../../src/core/node/manifest.js';
import { checkReceivedManifest, checkTransferUrl, storageOriginsFrom } from '../../src/core/node/received.js';
import { flipFirstByteKeepingMtime } from './flipByte.js';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const says = (words: RegExp) => (e: unknown) => e instanceof AmphoraError && words.test(e.message);

describe('client: what a server sends is checked before it touches the disk', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'amphora-received-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the cache refuses every key that is not a digest, in the one place paths are made', async () => {
    for (const bad of ['../../victim/important.txt', 'A'.repeat(64), sha('x').slice(1), `${sha('x')}/..`, '']) {
      assert.throws(() => cachedBlobPath(dir, bad), says(/64 lowercase hex/));
    }
    const victim = path.join(dir, 'victim', 'important.txt');
    await mkdir(path.dirname(victim));
    await writeFile(victim, 'precious');
    const cache = new BlobCache(path.join(dir, 'cache'));
    // The original hole: a "cached blob" named by a hostile digest failed verification and was unlinked.
    await assert.rejects(cache.materialize('../../victim/important.txt', 8, path.join(dir, 'out')), says(/64 lowercase hex/));
    await assert.rejects(cache.verify('../../victim/important.txt'), says(/64 lowercase hex/));
    await assert.rejects(cache.storeBytes(Buffer.from('x'), '../../victim/important.txt', 'x'), AmphoraError);
    assert.equal(await readFile(victim, 'utf8'), 'precious');
  });

  it('manifests: upload rules, reference digest forms, one size per digest, and the version it claims to be', () => {
    const good: Manifest = { a: { digest: sha('a'), size: 1 } };
    assert.equal(checkReceivedManifest(good, { what: 'x', digest: artifactDigest(good), fileCount: 1, size: 1 }), 1);
    const refs: Manifest = {
      etag: { digest: '9b2cf535f27731c974343645a3985328', size: 3, ref: 'https://h/x', extra: { etag: '"9b"' } },
      uri: { digest: 'https://h/y', size: 0, ref: 'https://h/y', extra: { checksum: false } },
    };
    assert.equal(checkReceivedManifest(refs, { what: 'x' }), 3);
    const cases: [Manifest, RegExp][] = [
      [{ a: { digest: '../../v', size: 1 } }, /64 lowercase hex/],
      [{ a: { digest: sha('a').toUpperCase(), size: 1 } }, /64 lowercase hex/],
      [{ '../a': { digest: sha('a'), size: 1 } }, /"\.\."/],
      [{ a: { digest: sha('a'), size: -1 } }, /invalid size/],
      [{ a: { digest: sha('a'), size: 1.5 } }, /invalid size/],
      [{ a: { digest: sha('a'), size: 2 ** 53 } }, /invalid size/],
      [{ a: { digest: sha('a'), size: 1 }, 'a/b': { digest: sha('a'), size: 1 } }, /both a file and a folder/],
      [{ a: { digest: sha('a'), size: 1 }, b: { digest: sha('a'), size: 2 } }, /same digest .* but different sizes/],
      [{ a: { digest: 'x\n', size: 1, ref: 'https://h/a' } }, /control characters/],
      [{ a: { digest: 'x'.repeat(2049), size: 1, ref: 'https://h/a' } }, /over-long/],
      [{ a: { digest: sha('a'), size: 1, ref: 'ftp://h/a' } }, /only http\(s\):\/\//],
    ];
    for (const [m, words] of cases) assert.throws(() => checkReceivedManifest(m, { what: 'p/x:v0' }), (e) => says(words)(e) && says(/nothing was written/)(e), JSON.stringify(m));
    assert.throws(() => checkReceivedManifest(good, { what: 'x', digest: sha('other') }), says(/artifact digest/));
    assert.throws(() => checkReceivedManifest(good, { what: 'x', fileCount: 2 }), says(/version says 2/));
    assert.throws(() => checkReceivedManifest(good, { what: 'x', size: 5 }), says(/version says 5/));
  });

  it('versions: names and labels a client turns into folders must be names', () => {
    const v = {
      id: '1', entity: 'e', project: 'p', name: 'n', type: 't', version: 'v3', index: 3, digest: sha('m'), size: 1, fileCount: 1,
      aliases: ['latest'], description: null, metadata: {}, state: 'committed', createdAt: '', updatedAt: '', producerRun: null,
    };
    assert.ok(api.ArtifactVersion.safeParse(v).success);
    for (const [k, bad] of [['name', '../../x'], ['name', '..'], ['project', 'a/b'], ['version', 'v0/../../x'], ['version', '3'], ['aliases', ['../x']], ['entity', '']] as const) {
      assert.equal(api.ArtifactVersion.safeParse({ ...v, [k]: bad }).success, false, `${k}=${JSON.stringify(bad)}`);
    }
  });

  it('transfer URLs stay on the server or on storage the user allowed', () => {
    const base = 'http://127.0.0.1:7411';
    assert.equal(checkTransferUrl(`/api/v1/blobs/${sha('a')}`, base).href, `${base}/api/v1/blobs/${sha('a')}`);
    const allowed = storageOriginsFrom({ AMPHORA_STORAGE_ORIGINS: 'https://bucket.example.com, http://127.0.0.1:9000/' });
    assert.equal(checkTransferUrl('https://bucket.example.com/k?X-Amz=1', base, allowed).origin, 'https://bucket.example.com');
    for (const [url, words] of [
      ['http://127.0.0.1:7412/x', /neither the server/],
      ['http://localhost:7411/x', /neither the server/],
      ['https://evil.example.com/k', /neither the server/],
      ['file:///etc/passwd', /file: instead/],
      ['http://u:p@127.0.0.1:7411/x', /credentials/],
    ] as const) {
      assert.throws(() => checkTransferUrl(url, base, allowed), (e) => says(words)(e) && says(/AMPHORA_STORAGE_ORIGINS/)(e), url);
    }
    assert.throws(() => storageOriginsFrom({ AMPHORA_STORAGE_ORIGINS: 'not a url' }), AmphoraError);
  });

  it('a streamed download stops at the first byte past the manifest size and keeps nothing', async () => {
    const cache = new BlobCache(path.join(dir, 'cache'));
    const bytes = Buffer.alloc(3000, 1);
    const flood = Readable.from((function* () { for (let i = 0; i < 1000; i++) yield Buffer.alloc(1 << 16, 2); })());
    await assert.rejects(cache.storeStream(flood, sha(bytes), 3000, 'x'), says(/more than the 3000 bytes/));
    assert.equal(flood.readableEnded, false, 'the rest of the flood was never read');
    await assert.rejects(cache.storeStream(Readable.from([bytes]), sha(bytes), 3001, 'x'), says(/3000 bytes instead of the 3001/));
    await assert.rejects(stat(cache.path(sha(bytes))));
  });

  it('the stat cache sees a byte flipped with the mtime set back (ctime), and stays answered from the cache otherwise', async () => {
    const f = path.join(dir, 'f.bin');
    await writeFile(f, 'hello world');
    const c = new StatCache(path.join(dir, 'cache'));
    assert.equal((await c.digest(f)).digest, sha('hello world'));
    assert.equal((await c.digest(f)).cached, true);
    assert.equal(c.hashed, 1);
    await flipFirstByteKeepingMtime(f);
    assert.equal(await c.lookup(f, await stat(f)), undefined);
    const again = await c.digest(f);
    assert.equal(again.digest, sha(await readFile(f)));
    assert.equal(c.hashed, 2);
  });
});
