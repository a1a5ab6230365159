import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Api } from '../../src/client/api.js';
import { Artifact } from '../../src/client/artifact.js';
import { Client } from '../../src/client/client.js';
import { cachedBytes, cachedDigests, packedBlob } from '../support/cacheBlobs.js';
import { startHarness, type Harness } from './sdk-harness.js';

/** A file bigger than the SDK's small-file limit (hashed and cached from its path, not its bytes). */
const LARGE = 9 * 1024 * 1024;

async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([stat(a), stat(b)]);
  return x.ino === y.ino && x.dev === y.dev;
}

/** Overwrites bytes in place (same inode, same size): what a program that rewrites a file with 'r+' does. */
async function overwriteInPlace(file: string, at: number, bytes: Buffer) {
  const fh = await open(file, 'r+');
  try {
    await fh.write(bytes, 0, bytes.length, at);
  } finally {
    await fh.close();
  }
}

describe('SDK: policy "immutable" hard-links logged files into the cache; skipCache keeps them out', function () {
  this.timeout(120_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  async function folder(name: string) {
    const dir = path.join(h.work, name);
    await mkdir(path.join(dir, 'sub'), { recursive: true });
    const files: Record<string, Buffer> = { 'a.csv': randomBytes(3000), 'sub/b.csv': randomBytes(5000), 'big.bin': randomBytes(LARGE) };
    for (const [rel, bytes] of Object.entries(files)) await writeFile(path.join(dir, rel), bytes);
    return { dir, files };
  }

  it('links small and large files (no second copy), and logging them again hashes nothing', async () => {
    const { dir } = await folder('frozen');
    const a = new Artifact('frozen', 'dataset');
    await a.addDir(dir, { policy: 'immutable' });
    await a.log({ client: h.client, project: 'policy' });
    const entries = (await a.manifest())!;
    for (const rel of ['a.csv', 'sub/b.csv', 'big.bin']) {
      assert.ok(await sameFile(path.join(dir, rel), h.client.blobCache.path(entries[rel]!.digest)), `${rel}: the cache blob is a hard link to the file`);
    }
    // The links moved the files' ctime; the stat cache was told, so nothing is hashed again.
    const hashed = h.client.statCache.hashed;
    const again = new Artifact('frozen', 'dataset');
    await again.addDir(dir, { policy: 'immutable' });
    await again.log({ client: h.client, project: 'policy' });
    assert.equal(h.client.statCache.hashed, hashed);
    assert.equal(again.version, a.version);
    assert.equal(again.created, false);
  });

  it('a linked file changed in place anyway costs a download, never wrong bytes', async () => {
    const { dir, files } = await folder('edited');
    const a = new Artifact('edited', 'dataset');
    await a.addDir(dir, { policy: 'immutable' });
    await a.log({ client: h.client, project: 'policy' });
    // Same size, other bytes, same inode: the cached blobs now hold content of another digest.
    await overwriteInPlace(path.join(dir, 'a.csv'), 10, Buffer.from('changed'));
    await overwriteInPlace(path.join(dir, 'big.bin'), LARGE - 100, Buffer.from('changed'));
    const v0 = await new Api({ client: h.client }).artifact('policy/edited:v0');
    const root = path.join(h.work, 'edited-v0');
    const r = await v0.download({ root });
    for (const [rel, bytes] of Object.entries(files)) assert.deepEqual(await readFile(path.join(root, rel)), bytes, `${rel}: the logged bytes`);
    assert.equal(r.fetched, 2, 'the two changed blobs were fetched again');
    assert.equal(r.fromCache, 1, 'the unchanged one came from the cache');
    // The blobs fetched again are the cache's own copies now (a small one in a pack), not links to the user's.
    const entries = (await v0.manifest())!;
    assert.equal(existsSync(h.client.blobCache.path(entries['a.csv']!.digest)), false, 'the link that failed its digest is gone');
    assert.deepEqual(cachedBytes(h.client.cacheDir, entries['a.csv']!.digest), files['a.csv']);
    assert.equal(await sameFile(path.join(dir, 'big.bin'), h.client.blobCache.path(entries['big.bin']!.digest)), false);
    assert.deepEqual(await readFile(h.client.blobCache.path(entries['big.bin']!.digest)), files['big.bin']);
  });

  it('the default (mutable) copies: changing the file later leaves the cached blob intact', async () => {
    const { dir, files } = await folder('mutable');
    const a = new Artifact('mutable', 'dataset');
    await a.addDir(dir);
    await a.log({ client: h.client, project: 'policy' });
    const entries = (await a.manifest())!;
    assert.equal(await sameFile(path.join(dir, 'big.bin'), h.client.blobCache.path(entries['big.bin']!.digest)), false, 'big.bin: a copy');
    assert.ok(packedBlob(h.client.cacheDir, entries['a.csv']!.digest), 'a.csv: a copy in a pack');
    await overwriteInPlace(path.join(dir, 'a.csv'), 0, Buffer.from('changed'));
    await overwriteInPlace(path.join(dir, 'big.bin'), 0, Buffer.from('changed'));
    assert.deepEqual(cachedBytes(h.client.cacheDir, entries['a.csv']!.digest), files['a.csv']);
    assert.deepEqual(cachedBytes(h.client.cacheDir, entries['big.bin']!.digest), files['big.bin']);
  });

  it('skipCache keeps the files out of the cache, even with policy "immutable"', async () => {
    const { dir } = await folder('skipped');
    const a = new Artifact('skipped', 'dataset');
    await a.addDir(dir, { policy: 'immutable', skipCache: true });
    await a.log({ client: h.client, project: 'policy' });
    const cached = new Set(cachedDigests(h.client.cacheDir));
    for (const e of Object.values((await a.manifest())!)) assert.equal(cached.has(e.digest), false);
  });

  it('a file reached through a symlink is copied, not linked: link(2) would link the symlink itself', async () => {
    const dir = path.join(h.work, 'linked-dir');
    await mkdir(dir, { recursive: true });
    const target = path.join(dir, 'real.bin');
    await writeFile(target, randomBytes(1000));
    await symlink('real.bin', path.join(dir, 'alias.bin'));
    const big = path.join(dir, 'big.bin');
    await writeFile(big, randomBytes(LARGE));
    await symlink('big.bin', path.join(dir, 'big-alias.bin'));
    const a = new Artifact('via-symlink', 'dataset');
    await a.addFile(path.join(dir, 'alias.bin'), { policy: 'immutable' });
    await a.addFile(path.join(dir, 'big-alias.bin'), { policy: 'immutable' });
    await a.log({ client: h.client, project: 'policy' });
    const entries = (await a.manifest())!;
    assert.ok((await lstat(h.client.blobCache.path(entries['big-alias.bin']!.digest))).isFile(), 'a regular file in the cache, not a symlink');
    // A small file's copy goes into a pack, with the bytes the symlink pointed at.
    assert.deepEqual(cachedBytes(h.client.cacheDir, entries['alias.bin']!.digest), await readFile(target));
  });

  it('a cache on another file system takes copies (link fails with EXDEV)', async function () {
    // /dev/shm is a tmpfs: a real second file system, no simulated error.
    if (!existsSync('/dev/shm')) this.skip();
    const cacheDir = await mkdtemp('/dev/shm/amphora-cache-');
    const client = await Client.connect({ baseUrl: h.url, apiKey: h.apiKey, cacheDir, env: {} });
    try {
      const { dir, files } = await folder('other-fs');
      const a = new Artifact('other-fs', 'dataset');
      await a.addDir(dir, { policy: 'immutable' });
      await a.log({ client, project: 'policy' });
      const entries = (await a.manifest())!;
      for (const [rel, bytes] of Object.entries(files)) {
        assert.equal((await stat(client.blobCache.path(entries[rel]!.digest)).catch(() => undefined))?.nlink ?? 1, 1, `${rel}: not a link`);
        assert.deepEqual(cachedBytes(cacheDir, entries[rel]!.digest), bytes, `${rel}: copied into the cache`);
      }
    } finally {
      await client.close();
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it('addFile / addDir refuse an unknown policy, naming the two', async () => {
    const a = new Artifact('bad-policy', 'dataset');
    await assert.rejects(a.addDir(h.work, { policy: 'frozen' as never }), /policy must be "mutable" or "immutable", got "frozen"/);
  });

  it('amphora artifact put --policy immutable links; --skip-cache caches nothing', async () => {
    const { dir } = await folder('cli');
    const cacheDir = path.join(h.work, 'cli-cache');
    const env = { ...process.env, AMPHORA_BASE_URL: h.url, AMPHORA_API_KEY: h.apiKey, AMPHORA_CACHE_DIR: cacheDir };
    // Asynchronously: the server runs in this process.
    const put = (...args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = execFile(process.execPath, [path.resolve('dist/cli.mjs'), '--json', 'artifact', 'put', dir, '-n', 'policy/cli', '-t', 'dataset', ...args], { env }, (_e, stdout, stderr) =>
          resolve({ status: child.exitCode, stdout, stderr }),
        );
      });
    const r = await put('--policy', 'immutable');
    assert.equal(r.status, 0, r.stderr);
    const client = await Client.connect({ baseUrl: h.url, apiKey: h.apiKey, cacheDir, env: {} });
    try {
      const art = await new Api({ client }).artifact('policy/cli:v0');
      const entries = (await art.manifest())!;
      assert.ok(await sameFile(path.join(dir, 'big.bin'), client.blobCache.path(entries['big.bin']!.digest)));
      assert.ok(await sameFile(path.join(dir, 'a.csv'), client.blobCache.path(entries['a.csv']!.digest)));
    } finally {
      await client.close();
    }
    await writeFile(path.join(dir, 'new.csv'), randomBytes(100));
    const skipped = await put('--skip-cache');
    assert.equal(skipped.status, 0, skipped.stderr);
    const digest = (JSON.parse(skipped.stdout) as { digest: string }).digest;
    assert.ok(digest);
    assert.equal(cachedDigests(cacheDir).length, 3, 'only the three files of v0 are cached, not new.csv');
    const bad = await put('--policy', 'frozen');
    assert.equal(bad.status, 5);
    assert.match(bad.stderr, /--policy must be mutable or immutable, got "frozen"/);
  });
});

describe('SDK: download({ skipCache }) writes the root only', function () {
  this.timeout(120_000);
  let h: Harness;
  let files: Record<string, Buffer>;
  before(async () => {
    h = await startHarness();
    const dir = path.join(h.work, 'src');
    await mkdir(path.join(dir, 'sub'), { recursive: true });
    const big = randomBytes(LARGE);
    const small = randomBytes(2000);
    // Two paths per content: a blob is fetched once per target when nothing is cached.
    files = { 'a.csv': small, 'sub/a-again.csv': small, 'b.csv': randomBytes(100), 'big.bin': big, 'sub/big-again.bin': big };
    for (const [rel, bytes] of Object.entries(files)) await writeFile(path.join(dir, rel), bytes);
    const a = new Artifact('skip', 'dataset');
    await a.addDir(dir);
    await a.log({ client: h.client, project: 'skip' });
  });
  after(async () => {
    await h.close();
  });

  async function check(root: string) {
    for (const [rel, bytes] of Object.entries(files)) assert.deepEqual(await readFile(path.join(root, rel)), bytes, rel);
  }
  const blobFiles = cachedDigests;

  it('into a new root and into an existing one, nothing reaches the cache; a second get fetches again', async () => {
    const consumer = await h.freshClient();
    const art = await new Api({ client: consumer }).artifact('skip/skip:v0');
    const r1 = await art.download({ root: path.join(h.work, 'new-root'), skipCache: true });
    await check(r1.root);
    assert.equal(r1.fetched, 5);
    const existing = path.join(h.work, 'existing-root');
    await mkdir(existing);
    await writeFile(path.join(existing, 'b.csv'), 'stale');
    const r2 = await art.download({ root: existing, skipCache: true });
    await check(existing);
    assert.equal(r2.fetched, 5);
    assert.deepEqual(blobFiles(consumer.cacheDir), []);
  });

  it('still takes what the cache already holds', async () => {
    const consumer = await h.freshClient();
    const art = await new Api({ client: consumer }).artifact('skip/skip:v0');
    await art.download({ root: path.join(h.work, 'warm'), only: ['b.csv'] });
    const r = await art.download({ root: path.join(h.work, 'warm-skip'), skipCache: true });
    await check(r.root);
    assert.equal(r.fromCache, 1);
    assert.equal(r.fetched, 4);
    assert.equal(blobFiles(consumer.cacheDir).length, 1);
  });

  it('from a server without batch downloads (one request per blob), nothing reaches the cache', async () => {
    const consumer = await h.freshClient();
    (consumer.http as { batchSupported: boolean }).batchSupported = false;
    const art = await new Api({ client: consumer }).artifact('skip/skip:v0');
    const r = await art.download({ root: path.join(h.work, 'one-by-one'), skipCache: true });
    await check(r.root);
    assert.deepEqual(blobFiles(consumer.cacheDir), []);
  });

  it('amphora artifact get --skip-cache', async () => {
    const cacheDir = path.join(h.work, 'cli-get-cache');
    const root = path.join(h.work, 'cli-get-root');
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [path.resolve('dist/cli.mjs'), '--json', 'artifact', 'get', 'skip/skip:v0', '--root', root, '--skip-cache'], { env: { ...process.env, AMPHORA_BASE_URL: h.url, AMPHORA_API_KEY: h.apiKey, AMPHORA_CACHE_DIR: cacheDir } }, (e, stdout, stderr) =>
        e ? reject(new Error(stderr)) : resolve(stdout),
      ),
    );
    assert.equal((JSON.parse(out) as { fetched: number }).fetched, 5);
    await check(root);
    assert.deepEqual(blobFiles(cacheDir), []);
  });
});
