import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { Api, Artifact } from '../../src/client/index.js';
import type { Client } from '../../src/client/client.js';
import { startHarness, type Harness } from './sdk-harness.js';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const manifestGets = (requests: string[]) => requests.filter((r) => /^GET .*\/manifest$/.test(r)).length;

describe('SDK manifest cache: a version seen before is downloaded without asking for its manifest', function () {
  this.timeout(60_000);
  let h: Harness;
  let files: Record<string, string>;
  before(async () => {
    h = await startHarness();
    const src = path.join(h.work, 'mc-src');
    files = { 'a.txt': 'alpha', 'd/b.txt': 'beta', 'd/e/c.txt': 'gamma' };
    for (const [p, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(src, p)), { recursive: true });
      await writeFile(path.join(src, p), text);
    }
    const art = new Artifact('mc', 'dataset');
    await art.addDir(src);
    await art.log({ client: h.client, project: 'mc' });
  });
  after(async () => {
    await h?.close();
  });

  const download = async (client: Client, root: string) => {
    const a = await new Api({ client }).artifact('mc/mc:latest');
    const mark = h.requests.length;
    const stats = await a.download({ root: path.join(h.work, root) });
    for (const [p, text] of Object.entries(files)) assert.equal(await readFile(path.join(h.work, root, p), 'utf8'), text, p);
    return { stats, manifestGets: manifestGets(h.requests.slice(mark)), version: a };
  };
  const cachedFile = async (client: Client) => {
    const a = await new Api({ client }).artifact('mc/mc:latest');
    const key = sha(`amphora-manifest-v1\n${client.http.baseUrl}\n${a.id}\n${a.digest}`);
    return path.join(client.cacheDir, 'manifests', key.slice(0, 2), key);
  };

  it('keeps the manifest on disk in the documented format, and the next download of the version makes no manifest request', async () => {
    const c = await h.freshClient();
    const first = await download(c, 'mc-1');
    assert.equal(first.manifestGets, 1);
    const file = await cachedFile(c);
    const bytes = await readFile(file);
    const nl = bytes.indexOf(0x0a);
    const body = bytes.subarray(nl + 1);
    assert.equal(bytes.subarray(0, nl).toString(), `amphora-manifest-v1 ${sha(body)}`);
    const doc = JSON.parse(body.toString()) as { digest: string; fileCount: number; size: number; entries: Record<string, { digest: string; size: number }> };
    assert.equal(doc.digest, first.version.digest);
    assert.equal(doc.fileCount, 3);
    assert.equal(doc.size, 14);
    assert.deepEqual(Object.keys(doc.entries).sort(), Object.keys(files).sort());
    assert.equal(doc.entries['a.txt'].digest, sha('alpha'));

    const second = await download(c, 'mc-2');
    assert.equal(second.manifestGets, 0, 'the cached manifest answered');
    assert.equal(second.stats.fromCache, 3);
  });

  it('the producer keeps the manifest it committed: its own first download asks for none', async () => {
    const r = await download(h.client, 'mc-producer');
    assert.equal(r.manifestGets, 0);
  });

  for (const [name, spoil] of [
    ['a flipped byte in the body', (b: Buffer) => { b[b.length - 3] ^= 1; return b; }],
    ['a wrong header', (b: Buffer) => Buffer.concat([Buffer.from('amphora-manifest-v1 ' + '0'.repeat(64)), b.subarray(b.indexOf(0x0a))])],
    ['a truncated file', (b: Buffer) => b.subarray(0, b.length - 10)],
    ['an empty file', () => Buffer.alloc(0)],
    ['a well-hashed body for another file count', (b: Buffer) => {
      const doc = JSON.parse(b.subarray(b.indexOf(0x0a) + 1).toString()) as { fileCount: number };
      doc.fileCount = 2;
      const body = JSON.stringify(doc);
      return Buffer.from(`amphora-manifest-v1 ${sha(body)}\n${body}`);
    }],
    ['a well-hashed body with an entry dropped', (b: Buffer) => {
      const doc = JSON.parse(b.subarray(b.indexOf(0x0a) + 1).toString()) as { entries: Record<string, unknown> };
      delete doc.entries['a.txt'];
      const body = JSON.stringify(doc);
      return Buffer.from(`amphora-manifest-v1 ${sha(body)}\n${body}`);
    }],
    ['a well-hashed body naming other content (two files swapped)', (b: Buffer) => {
      const doc = JSON.parse(b.subarray(b.indexOf(0x0a) + 1).toString()) as { entries: Record<string, { digest: string }> };
      [doc.entries['a.txt'].digest, doc.entries['d/b.txt'].digest] = [doc.entries['d/b.txt'].digest, doc.entries['a.txt'].digest];
      const body = JSON.stringify(doc);
      return Buffer.from(`amphora-manifest-v1 ${sha(body)}\n${body}`);
    }],
  ] as const) {
    it(`ignores and replaces a cached manifest with ${name}`, async () => {
      const c = await h.freshClient();
      await download(c, `spoil-${name}-1`);
      const file = await cachedFile(c);
      await writeFile(file, spoil(await readFile(file)));
      const r = await download(c, `spoil-${name}-2`);
      assert.equal(r.manifestGets, 1, 'fetched from the server again');
      const again = await download(c, `spoil-${name}-3`);
      assert.equal(again.manifestGets, 0, 'and cached again, intact');
    });
  }

  it('does not follow a symlink put in place of a cached manifest', async () => {
    const c = await h.freshClient();
    await download(c, 'link-1');
    const file = await cachedFile(c);
    const elsewhere = path.join(h.work, 'elsewhere-manifest');
    await writeFile(elsewhere, await readFile(file));
    await rm(file);
    await symlink(elsewhere, file);
    const r = await download(c, 'link-2');
    assert.equal(r.manifestGets, 1);
  });

  it('works when manifests cannot be stored (a file where the folder would be)', async () => {
    const c = await h.freshClient();
    await mkdir(c.cacheDir, { recursive: true });
    await writeFile(path.join(c.cacheDir, 'manifests'), 'not a folder');
    assert.equal((await download(c, 'ro-1')).manifestGets, 1);
    assert.equal((await download(c, 'ro-2')).manifestGets, 1);
  });

  it('cache cleanup evicts cached manifests with the blobs', async () => {
    const c = await h.freshClient();
    await download(c, 'clean-1');
    const r = await c.blobCache.cleanup(0);
    assert.ok(r.removed >= 2, `removed ${r.removed}: the pack of the three small blobs and the manifest`);
    assert.equal(r.keptBytes, 0);
    assert.deepEqual(await readdir(path.join(c.cacheDir, 'packs')), [], 'the pack went whole');
    const left = await readdir(path.join(c.cacheDir, 'manifests')).then((shards) => Promise.all(shards.map((s) => readdir(path.join(c.cacheDir, 'manifests', s)))));
    assert.deepEqual(left.flat(), []);
    const again = await download(c, 'clean-2');
    assert.equal(again.manifestGets, 1);
  });
  it('shares cached manifests with the Python client, both ways', async () => {
    const pyDownload = async (cacheDir: string, root: string) => {
      // Counts the manifest requests the Python client sends while downloading.
      const script = `
import json, sys
from amphora.transport import Http
import amphora as wandb
seen = []
real = Http.open
def counting(http, method, path, *a, **k):
    seen.append(path)
    return real(http, method, path, *a, **k)
Http.open = counting
wandb.Api().artifact("mc/mc:latest").download(root=sys.argv[1])
print(json.dumps(sum(1 for p in seen if p.split("?")[0].endswith("/manifest"))))
`;
      // Not spawnSync: the server runs in this process and must keep answering.
      const r = await promisify(execFile)('python3', ['-c', script, path.join(h.work, root)], {
        env: { ...process.env, PYTHONPATH: path.join(REPO, 'python'), AMPHORA_BASE_URL: h.url, AMPHORA_API_KEY: h.apiKey, AMPHORA_CACHE_DIR: cacheDir },
      });
      return Number(r.stdout.trim());
    };
    // TypeScript writes, Python reads.
    const ts = await h.freshClient();
    assert.equal((await download(ts, 'x-ts-1')).manifestGets, 1);
    assert.equal(await pyDownload(ts.cacheDir, 'x-py-1'), 0, 'Python used the manifest TypeScript cached');
    // Python writes, TypeScript reads.
    const fresh = await h.freshClient();
    assert.equal(await pyDownload(fresh.cacheDir, 'x-py-2'), 1);
    assert.equal((await download(fresh, 'x-ts-2')).manifestGets, 0, 'TypeScript used the manifest Python cached');
  });
});
