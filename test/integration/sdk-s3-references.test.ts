/** s3:// references in the TypeScript SDK against a real S3 protocol server (s3rver on loopback). */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Api, Artifact } from '../../src/client/index.js';
import { AmphoraError } from '../../src/core/errors.js';
import { startS3rverRefs, withEnv, type S3rverRefs } from '../support/s3rverRefs.js';
import { blobPuts, startHarness, type Harness } from './sdk-harness.js';

const md5 = (b: string) => createHash('md5').update(b).digest('hex');
const isCode = (c: string, re?: RegExp) => (e: unknown) => {
  if (!(e instanceof AmphoraError)) throw e;
  assert.equal(e.code, c, e.message);
  if (re) assert.match(e.message, re);
  return true;
};

describe('s3:// references (TypeScript SDK against s3rver)', function () {
  this.timeout(120_000);
  let h: Harness;
  let s3: S3rverRefs;
  let restore: () => void;

  before(async () => {
    [h, s3] = await Promise.all([startHarness(), startS3rverRefs(['refs', 'big'])]);
    const saved = { ...process.env };
    Object.assign(process.env, s3.env);
    restore = () => {
      for (const k of Object.keys(s3.env)) if (saved[k] === undefined) delete process.env[k];
      Object.assign(process.env, saved);
    };
    await s3.put('refs', 'data/train.csv', 'x,y\n1,2\n');
    await s3.put('refs', 'ds/a.txt', 'alpha');
    await s3.put('refs', 'ds/sub/b.txt', 'beta');
    await s3.put('refs', 'ds/empty-folder/', ''); // a console's folder marker: not a file
  });
  after(async () => {
    restore?.();
    await Promise.all([h?.close(), s3?.close()]);
  });

  it('a key records ETag (the MD5 here) and size, stores no bytes, and downloads on another machine', async () => {
    const a = new Artifact('s3-key', 'dataset');
    const [e] = await a.addReference('s3://refs/data/train.csv');
    assert.equal(e.path, 'train.csv');
    assert.equal(e.digest, md5('x,y\n1,2\n'));
    assert.equal(e.size, 8);
    assert.equal(e.ref(), 's3://refs/data/train.csv');
    assert.deepEqual(e.extra, { etag: `"${md5('x,y\n1,2\n')}"` }, 's3rver has no versioning: no versionId');
    const before = blobPuts(h.requests);
    await a.log({ client: h.client, project: 'cloud' });
    assert.equal(blobPuts(h.requests), before, 'a reference uploads nothing');
    const consumer = await h.freshClient();
    const got = await new Api({ client: consumer }).artifact('cloud/s3-key:latest');
    const r = await got.download({ root: path.join(h.work, 'key1') });
    assert.equal(r.fetched, 1);
    assert.equal(await readFile(path.join(h.work, 'key1', 'train.csv'), 'utf8'), 'x,y\n1,2\n');
  });

  it('a prefix expands to its objects (folder markers skipped), under name/ when given; a key without the slash works too', async () => {
    const a = new Artifact('s3-prefix', 'dataset');
    const entries = await a.addReference('s3://refs/ds/', { name: 'raw' });
    assert.deepEqual(entries.map((e) => e.path).sort(), ['raw/a.txt', 'raw/sub/b.txt']);
    assert.deepEqual(entries.map((e) => e.ref()).sort(), ['s3://refs/ds/a.txt', 's3://refs/ds/sub/b.txt']);
    await a.log({ client: h.client, project: 'cloud' });
    const got = await new Api({ client: await h.freshClient() }).artifact('cloud/s3-prefix');
    await got.download({ root: path.join(h.work, 'pre1') });
    assert.equal(await readFile(path.join(h.work, 'pre1', 'raw', 'a.txt'), 'utf8'), 'alpha');
    assert.equal(await readFile(path.join(h.work, 'pre1', 'raw', 'sub', 'b.txt'), 'utf8'), 'beta');
    const noSlash = await new Artifact('s3-prefix2', 'dataset').addReference('s3://refs/ds');
    assert.deepEqual(noSlash.map((e) => e.path).sort(), ['a.txt', 'sub/b.txt']);
  });

  it('a changed object is a clear error naming both ETags, and nothing is written', async () => {
    await s3.put('refs', 'mutable/m.bin', 'first');
    const a = new Artifact('s3-mutable', 'dataset');
    await a.addReference('s3://refs/mutable/m.bin');
    await a.log({ client: h.client, project: 'cloud' });
    await s3.put('refs', 'mutable/m.bin', 'second');
    const got = await new Api({ client: await h.freshClient() }).artifact('cloud/s3-mutable');
    await assert.rejects(got.download({ root: path.join(h.work, 'mut') }), isCode('reference_changed', new RegExp(`changed since it was logged: ETag was "${md5('first')}", now "${md5('second')}".*versioning`)));
    await assert.rejects(stat(path.join(h.work, 'mut')), 'no half-written download root');
  });

  it('a deleted object is not_found on download', async () => {
    await s3.put('refs', 'gone/g.txt', 'soon gone');
    const a = new Artifact('s3-gone', 'dataset');
    await a.addReference('s3://refs/gone/g.txt');
    await a.log({ client: h.client, project: 'cloud' });
    await s3.del('refs', 'gone/g.txt');
    await assert.rejects(a.download({ root: path.join(h.work, 'gone') }), isCode('not_found', /s3:\/\/refs\/gone\/g\.txt does not exist/));
  });

  it('checksum: false records the URI as the digest without asking S3, and downloads whatever is there', async () => {
    await s3.put('refs', 'loose/l.txt', 'one');
    const a = new Artifact('s3-loose', 'dataset');
    const [e] = await withEnv({ AWS_ACCESS_KEY_ID: undefined }, () => a.addReference('s3://refs/loose/l.txt', { checksum: false }));
    assert.equal(e.digest, 's3://refs/loose/l.txt');
    assert.deepEqual(e.extra, { checksum: false });
    await a.log({ client: h.client, project: 'cloud' });
    await s3.put('refs', 'loose/l.txt', 'two');
    await a.download({ root: path.join(h.work, 'loose') });
    assert.equal(await readFile(path.join(h.work, 'loose', 'l.txt'), 'utf8'), 'two');
    const listed = await new Artifact('s3-loose-prefix', 'dataset').addReference('s3://refs/ds/', { checksum: false });
    assert.deepEqual(listed.map((x) => [x.path, x.digest]).sort(), [['a.txt', 's3://refs/ds/a.txt'], ['sub/b.txt', 's3://refs/ds/sub/b.txt']]);
  });

  it('lists past one page (1,005 objects), and more than max_objects is an error naming it', async () => {
    const keys = Array.from({ length: 1005 }, (_, i) => `many/f${String(i).padStart(4, '0')}.txt`);
    for (let i = 0; i < keys.length; i += 200) await Promise.all(keys.slice(i, i + 200).map((k) => s3.put('big', k, k)));
    const all = await new Artifact('s3-many', 'dataset').addReference('s3://big/many/');
    assert.equal(all.length, 1005);
    assert.equal(new Set(all.map((e) => e.path)).size, 1005);
    await assert.rejects(new Artifact('s3-many', 'dataset').addReference('s3://big/many/', { maxObjects: 1000 }), isCode('invalid_request', /more than max_objects=1000 objects/));
    await assert.rejects(new Artifact('s3-many', 'dataset').addReference('s3://big/many/', { maxObjects: 0 }), isCode('invalid_request', /maxObjects must be/));
  });

  it('a missing bucket, key or prefix is not_found naming it', async () => {
    await assert.rejects(new Artifact('x', 'dataset').addReference('s3://no-such-bucket/k.txt'), isCode('not_found', /Bucket "no-such-bucket" does not exist/));
    await assert.rejects(new Artifact('x', 'dataset').addReference('s3://no-such-bucket/'), isCode('not_found', /Bucket "no-such-bucket" does not exist/));
    await assert.rejects(new Artifact('x', 'dataset').addReference('s3://refs/nope.txt'), isCode('not_found', /s3:\/\/refs\/nope\.txt does not exist/));
    await assert.rejects(new Artifact('x', 'dataset').addReference('s3://refs/nothing-here/'), isCode('not_found', /No objects under s3:\/\/refs\/nothing-here\//));
  });

  it('missing or wrong credentials are an unauthorized error that says which variables to set', async () => {
    await withEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined }, async () => {
      await assert.rejects(new Artifact('x', 'dataset').addReference('s3://refs/data/train.csv'), isCode('unauthorized', /No AWS credentials.*AWS_ACCESS_KEY_ID.*AWS_PROFILE/));
    });
    await withEnv({ AWS_ACCESS_KEY_ID: 'NOT-A-KEY' }, async () => {
      await assert.rejects(new Artifact('x', 'dataset').addReference('s3://refs/data/train.csv'), isCode('unauthorized', /refused to let your AWS credentials read s3:\/\/refs\/data\/train\.csv \(HTTP 403/));
    });
    // The download of a logged reference uses the downloader's own credentials too.
    const a = new Artifact('s3-creds', 'dataset');
    await a.addReference('s3://refs/data/train.csv');
    await a.log({ client: h.client, project: 'cloud' });
    await withEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined }, async () => {
      await assert.rejects(a.download({ root: path.join(h.work, 'creds') }), isCode('unauthorized', /No AWS credentials/));
    });
  });

  it('an unreachable endpoint is server_unreachable naming it', async () => {
    await withEnv({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '1' }, async () => {
      await assert.rejects(new Artifact('x', 'dataset').addReference('s3://refs/data/train.csv'), isCode('server_unreachable', /Cannot reach S3 at http:\/\/127\.0\.0\.1:9/));
    });
  });

  it('an unknown scheme is an error naming it; a malformed bucket URI says how to write one', async () => {
    await assert.rejects(new Artifact('x', 'dataset').addReference('ftp://host/file.csv'), isCode('unsupported', /scheme "ftp"/));
    await assert.rejects(new Artifact('x', 'dataset').addReference('s3://'), isCode('invalid_reference', /s3:\/\/BUCKET\/KEY/));
  });
});

/**
 * s3rver has no versioning, so the VersionId path runs against a fake versioned S3 written here:
 * the few REST calls the SDK makes for references (HEAD/GET object with versionId, ?versioning,
 * ?versions listing), path-style, signatures not checked.
 */
class FakeVersionedS3 {
  /** key → versions, oldest first. */
  readonly objects = new Map<string, { versionId: string; data: Buffer }[]>();
  private n = 0;
  readonly server: Server = createServer((req, res) => this.handle(req, res));
  put(key: string, data: string): string {
    const versionId = `ver-${++this.n}`;
    this.objects.set(key, [...(this.objects.get(key) ?? []), { versionId, data: Buffer.from(data) }]);
    return versionId;
  }
  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }
  close() {
    return new Promise<void>((r) => this.server.close(() => r()));
  }
  private xml(res: ServerResponse, status: number, body: string) {
    res.writeHead(status, { 'content-type': 'application/xml' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>${body}`);
  }
  private handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url!, 'http://x');
    const [, bucket, ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    if (bucket !== 'versioned') return this.xml(res, 404, '<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>');
    if (!key && url.searchParams.has('versioning')) return this.xml(res, 200, '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>');
    if (!key && url.searchParams.has('versions')) {
      const prefix = url.searchParams.get('prefix') ?? '';
      const items = [...this.objects]
        .filter(([k]) => k.startsWith(prefix))
        .flatMap(([k, vs]) => vs.map((v, i) => `<Version><Key>${k}</Key><VersionId>${v.versionId}</VersionId><IsLatest>${i === vs.length - 1}</IsLatest><ETag>"${md5(v.data.toString())}"</ETag><Size>${v.data.length}</Size></Version>`));
      return this.xml(res, 200, `<ListVersionsResult><Name>versioned</Name><Prefix>${prefix}</Prefix><IsTruncated>false</IsTruncated>${items.join('')}</ListVersionsResult>`);
    }
    const versions = this.objects.get(key);
    const wanted = url.searchParams.get('versionId');
    const v = wanted ? versions?.find((x) => x.versionId === wanted) : versions?.at(-1);
    if (!v) {
      const code = wanted && versions ? 'NoSuchVersion' : 'NoSuchKey';
      if (req.method === 'HEAD') return void res.writeHead(404).end();
      return this.xml(res, 404, `<Error><Code>${code}</Code><Message>not here</Message></Error>`);
    }
    res.writeHead(200, { etag: `"${md5(v.data.toString())}"`, 'content-length': v.data.length, 'x-amz-version-id': v.versionId, 'content-type': 'application/octet-stream' });
    res.end(req.method === 'HEAD' ? undefined : v.data);
  }
}

describe('s3:// VersionId pinning (TypeScript SDK against a fake versioned S3; s3rver has no versioning)', function () {
  this.timeout(60_000);
  let h: Harness;
  const fake = new FakeVersionedS3();
  let restore: () => void;

  before(async () => {
    h = await startHarness();
    const endpoint = await fake.listen();
    const env = { AWS_ENDPOINT_URL_S3: endpoint, AWS_ACCESS_KEY_ID: 'fake', AWS_SECRET_ACCESS_KEY: 'fake', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true', AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED', AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED' };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    restore = () => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    };
  });
  after(async () => {
    restore?.();
    await fake.close();
    await h?.close();
  });

  it('a key records its VersionId and downloads that version after the object is overwritten', async () => {
    const v1 = fake.put('models/m.bin', 'weights v1');
    const a = new Artifact('s3-pinned', 'model');
    const [e] = await a.addReference('s3://versioned/models/m.bin');
    assert.deepEqual(e.extra, { etag: `"${md5('weights v1')}"`, versionId: v1 });
    await a.log({ client: h.client, project: 'cloud' });
    fake.put('models/m.bin', 'weights v2');
    await a.download({ root: path.join(h.work, 'pinned') });
    assert.equal(await readFile(path.join(h.work, 'pinned', 'm.bin'), 'utf8'), 'weights v1');
  });

  it('a prefix of a versioned bucket records each latest VersionId; a version deleted since is not_found', async () => {
    fake.put('ds/a.txt', 'old a');
    const va = fake.put('ds/a.txt', 'alpha');
    const vb = fake.put('ds/b.txt', 'beta');
    const a = new Artifact('s3-pinned-prefix', 'dataset');
    const entries = await a.addReference('s3://versioned/ds/');
    assert.deepEqual(entries.map((x) => [x.path, x.extra?.versionId]).sort(), [['a.txt', va], ['b.txt', vb]]);
    await a.log({ client: h.client, project: 'cloud' });
    fake.objects.set('ds/b.txt', [{ versionId: 'ver-other', data: Buffer.from('rewritten') }]);
    await assert.rejects(a.download({ root: path.join(h.work, 'pinned-prefix') }), isCode('not_found', /recorded version of s3:\/\/versioned\/ds\/b\.txt no longer exists/));
  });
});
