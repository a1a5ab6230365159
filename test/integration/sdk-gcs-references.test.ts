/**
 * gs:// references in the TypeScript SDK through the real @google-cloud/storage client, against a
 * fake GCS JSON API written here (no GCS emulator is available on this machine): object metadata,
 * listing with pagination, media download by generation, and buckets with or without versioning.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { CRC32C } from '@google-cloud/storage';
import { Api, Artifact } from '../../src/client/index.js';
import { AmphoraError } from '../../src/core/errors.js';
import { startHarness, type Harness } from './sdk-harness.js';

const isCode = (c: string, re?: RegExp) => (e: unknown) => {
  if (!(e instanceof AmphoraError)) throw e;
  assert.equal(e.code, c, e.message);
  if (re) assert.match(e.message, re);
  return true;
};
const md5b64 = (b: Buffer) => createHash('md5').update(b).digest('base64');

interface Generation {
  generation: number;
  data: Buffer;
  /** Composite objects have a CRC32C but no MD5. */
  composite: boolean;
}

/** The slice of the GCS JSON API that @google-cloud/storage uses to read objects. */
class FakeGcs {
  readonly buckets = new Map<string, { versioned: boolean; objects: Map<string, Generation[]> }>();
  private nextGeneration = 1_700_000_000_000_000;
  /** Small pages, so listing must follow nextPageToken. */
  pageSize = 2;
  server: Server = createServer((req, res) => this.handle(req, res));

  addBucket(name: string, versioned = false) {
    this.buckets.set(name, { versioned, objects: new Map() });
  }
  put(bucket: string, name: string, data: string, composite = false): number {
    const b = this.buckets.get(bucket)!;
    const gen: Generation = { generation: this.nextGeneration++, data: Buffer.from(data), composite };
    const history = b.objects.get(name) ?? [];
    b.objects.set(name, b.versioned ? [...history, gen] : [gen]);
    return gen.generation;
  }
  del(bucket: string, name: string) {
    this.buckets.get(bucket)!.objects.delete(name);
  }
  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }
  close() {
    return new Promise<void>((r) => this.server.close(() => r()));
  }

  private meta(bucket: string, name: string, g: Generation) {
    const crc = new CRC32C();
    crc.update(g.data);
    return {
      kind: 'storage#object',
      bucket,
      name,
      generation: String(g.generation),
      metageneration: '1',
      size: String(g.data.length),
      ...(g.composite ? { componentCount: 2 } : { md5Hash: md5b64(g.data) }),
      crc32c: crc.toString(),
      etag: `E${g.generation}`,
    };
  }
  private error(res: ServerResponse, code: number, message: string) {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code, message, errors: [{ message, reason: code === 404 ? 'notFound' : 'invalid' }] } }));
  }
  private handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url!, 'http://x');
    const m = /^(?:\/storage\/v1|\/download\/storage\/v1)?\/b\/([^/]+)\/o(?:\/(.+))?$/.exec(url.pathname);
    if (!m || req.method !== 'GET') return this.error(res, 400, `fake GCS does not implement ${req.method} ${url.pathname}`);
    const bucket = this.buckets.get(decodeURIComponent(m[1]));
    if (!bucket) return this.error(res, 404, 'The specified bucket does not exist.');
    if (m[2] === undefined) {
      const prefix = url.searchParams.get('prefix') ?? '';
      const names = [...bucket.objects.keys()].filter((n) => n.startsWith(prefix)).sort();
      const start = Number(url.searchParams.get('pageToken') ?? 0);
      const page = names.slice(start, start + Math.min(this.pageSize, Number(url.searchParams.get('maxResults') ?? 1000)));
      const next = start + page.length < names.length ? String(start + page.length) : undefined;
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ kind: 'storage#objects', items: page.map((n) => this.meta(m[1], n, bucket.objects.get(n)!.at(-1)!)), ...(next ? { nextPageToken: next } : {}) }));
    }
    const name = decodeURIComponent(m[2]);
    const history = bucket.objects.get(name);
    const wanted = url.searchParams.get('generation');
    const g = wanted ? history?.find((x) => String(x.generation) === wanted) : history?.at(-1);
    if (!g) return this.error(res, 404, `No such object: ${m[1]}/${name}`);
    if (url.searchParams.get('alt') === 'media') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': g.data.length, 'x-goog-generation': String(g.generation) });
      return res.end(g.data);
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(this.meta(m[1], name, g)));
  }
}

describe('gs:// references (TypeScript SDK against a fake GCS JSON API)', function () {
  this.timeout(60_000);
  let h: Harness;
  const gcs = new FakeGcs();
  let saved: string | undefined;

  before(async () => {
    h = await startHarness();
    gcs.addBucket('plain');
    gcs.addBucket('kept', true);
    saved = process.env.STORAGE_EMULATOR_HOST;
    process.env.STORAGE_EMULATOR_HOST = await gcs.listen();
    gcs.put('plain', 'data/train.csv', 'x,y\n1,2\n');
    for (const n of ['a', 'b', 'c', 'd', 'e']) gcs.put('plain', `ds/${n}.txt`, `file ${n}`);
    gcs.put('plain', 'ds/folder/', '');
  });
  after(async () => {
    if (saved === undefined) delete process.env.STORAGE_EMULATOR_HOST;
    else process.env.STORAGE_EMULATOR_HOST = saved;
    await gcs.close();
    await h?.close();
  });

  it('an object records generation + md5Hash and downloads on another machine', async () => {
    const a = new Artifact('gcs-key', 'dataset');
    const [e] = await a.addReference('gs://plain/data/train.csv');
    assert.equal(e.path, 'train.csv');
    assert.equal(e.digest, md5b64(Buffer.from('x,y\n1,2\n')));
    assert.equal(e.size, 8);
    assert.match(String(e.extra?.generation), /^\d+$/);
    assert.equal(e.extra?.md5Hash, e.digest);
    await a.log({ client: h.client, project: 'gcs' });
    const got = await new Api({ client: await h.freshClient() }).artifact('gcs/gcs-key');
    await got.download({ root: path.join(h.work, 'key') });
    assert.equal(await readFile(path.join(h.work, 'key', 'train.csv'), 'utf8'), 'x,y\n1,2\n');
  });

  it('a prefix lists every page (folder markers skipped); more than max_objects is an error naming it', async () => {
    const a = new Artifact('gcs-prefix', 'dataset');
    const entries = await a.addReference('gs://plain/ds/', { name: 'raw' });
    assert.deepEqual(entries.map((e) => e.path).sort(), ['raw/a.txt', 'raw/b.txt', 'raw/c.txt', 'raw/d.txt', 'raw/e.txt']);
    await a.log({ client: h.client, project: 'gcs' });
    await a.download({ root: path.join(h.work, 'prefix') });
    assert.equal(await readFile(path.join(h.work, 'prefix', 'raw', 'e.txt'), 'utf8'), 'file e');
    await assert.rejects(new Artifact('x', 'dataset').addReference('gs://plain/ds/', { maxObjects: 4 }), isCode('invalid_request', /more than max_objects=4 objects/));
    const noSlash = await new Artifact('x', 'dataset').addReference('gs://plain/ds');
    assert.equal(noSlash.length, 5);
  });

  it('a changed generation in a bucket without versioning is a clear error; nothing is written', async () => {
    const first = gcs.put('plain', 'mutable.bin', 'first');
    const a = new Artifact('gcs-mutable', 'model');
    await a.addReference('gs://plain/mutable.bin');
    await a.log({ client: h.client, project: 'gcs' });
    const second = gcs.put('plain', 'mutable.bin', 'second');
    await assert.rejects(a.download({ root: path.join(h.work, 'mutable') }), isCode('reference_changed', new RegExp(`generation was ${first}, now ${second}.*Object Versioning`)));
    await assert.rejects(stat(path.join(h.work, 'mutable')));
    gcs.del('plain', 'mutable.bin');
    await assert.rejects(a.download({ root: path.join(h.work, 'mutable') }), isCode('not_found', /was deleted since it was logged/));
  });

  it('a versioned bucket serves the recorded generation after an overwrite', async () => {
    gcs.put('kept', 'model.bin', 'weights v1');
    const a = new Artifact('gcs-kept', 'model');
    await a.addReference('gs://kept/model.bin');
    await a.log({ client: h.client, project: 'gcs' });
    gcs.put('kept', 'model.bin', 'weights v2');
    await a.download({ root: path.join(h.work, 'kept') });
    assert.equal(await readFile(path.join(h.work, 'kept', 'model.bin'), 'utf8'), 'weights v1');
  });

  it('a composite object (no MD5) is recorded and verified by CRC32C', async () => {
    gcs.put('plain', 'composite.bin', 'joined parts', true);
    const a = new Artifact('gcs-composite', 'dataset');
    const [e] = await a.addReference('gs://plain/composite.bin');
    assert.equal(e.extra?.md5Hash, undefined);
    assert.equal(e.digest, e.extra?.crc32c);
    await a.log({ client: h.client, project: 'gcs' });
    await a.download({ root: path.join(h.work, 'composite') });
    assert.equal(await readFile(path.join(h.work, 'composite', 'composite.bin'), 'utf8'), 'joined parts');
    // Same generation, other bytes (a corrupting proxy): the CRC32C check catches it.
    gcs.buckets.get('plain')!.objects.get('composite.bin')![0].data = Buffer.from('joined partz');
    await assert.rejects(a.download({ root: path.join(h.work, 'composite2') }), isCode('reference_changed', /CRC32C was/));
  });

  it('a missing bucket or object is not_found naming it; checksum: false asks nothing', async () => {
    await assert.rejects(new Artifact('x', 'dataset').addReference('gs://no-such-bucket/k'), isCode('not_found', /Bucket "no-such-bucket" does not exist/));
    await assert.rejects(new Artifact('x', 'dataset').addReference('gs://plain/nope.txt'), isCode('not_found', /gs:\/\/plain\/nope\.txt does not exist/));
    const [e] = await new Artifact('x', 'dataset').addReference('gs://no-such-bucket/k.txt', { checksum: false });
    assert.equal(e.digest, 'gs://no-such-bucket/k.txt');
  });
});
