/**
 * Probe: a malicious server (test/security/hostileServer.ts) against both clients — the
 * TypeScript SDK/CLI in this process or as `dist/cli.mjs`, and the Python client as a subprocess.
 * Every case snapshots a victim folder and everything else outside the download root and the
 * cache, and asserts it is untouched and that the client said clearly what was wrong.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Api } from '../../src/client/api.js';
import { Artifact } from '../../src/client/artifact.js';
import { Client } from '../../src/client/client.js';
import { waitFor } from '../support/waitFor.js';
import { sha, startBystander, startHostile, type Hostile, type Scenario } from './hostileServer.js';

/** Whether any regular file lies under `dir` (a missing folder has none). */
function hasFile(dir: string): boolean {
  if (!existsSync(dir)) return false;
  return readdirSync(dir, { withFileTypes: true }).some((e) => (e.isDirectory() ? hasFile(path.join(dir, e.name)) : e.isFile()));
}

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(REPO, 'dist', 'cli.mjs');
const PY = path.join(REPO, 'test', 'security', 'py_client.py');
const PRECIOUS = Buffer.from('precious');

/** Every file and link under `dir` except the areas a client may write, with a content hash. */
async function snapshot(dir: string, allowed: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (allowed.some((a) => full === a || full.startsWith(a + path.sep))) continue;
      const st = await lstat(full);
      if (st.isSymbolicLink()) out[full] = `link → ${await readlink(full)}`;
      else if (st.isDirectory()) {
        out[full] = 'dir';
        await walk(full);
      } else out[full] = `${st.size} ${createHash('sha256').update(await readFile(full)).digest('hex')} ${st.mtimeMs}`;
    }
  };
  await walk(dir);
  return out;
}

interface Outcome {
  ok: boolean;
  code?: string;
  message?: string;
}

interface Case {
  name: string;
  /** What the client's error must say (both clients); undefined: the download must succeed. */
  expect?: RegExp;
  scenario: (base: string) => Scenario;
  /** Plants files in the root before the client runs. */
  plant?: (root: string, base: string) => Promise<void>;
  /** Extra checks after the client ran. */
  after?: (root: string, base: string) => Promise<void>;
  /** Puts blobs into each client's cache before it runs (digest → bytes). */
  plantCache?: Record<string, Buffer>;
  /** The client may either succeed or fail with `expect` (e.g. it may recover). */
  mayRecover?: boolean;
  /** Download into ./artifacts/<name>:<version> (cwd = base/work) instead of an explicit root. */
  defaultRoot?: boolean;
  /** Download with skipCache / skip_cache=True (nothing may land in the cache either). */
  skipCache?: boolean;
}

/** After a skipCache download: neither client's cache holds a blob (manifests and stat rows are kept). */
const cachesEmpty = async (_root: string, base: string) => {
  for (const c of ['cache-ts', 'cache-py']) assert.equal(hasFile(path.join(base, c, 'blobs')), false, `${c} holds no blob`);
};

/** An internal service on loopback (what a reference to 127.0.0.1 or localhost would read); started in before(). */
let internal: Awaited<ReturnType<typeof startBystander>>;
const internalPort = () => new URL(internal.url).port;
const noRequestToInternal = async () => assert.deepEqual(internal.hits, [], 'the internal service got no request');

const good = Buffer.from('good bytes\n');
const big = Buffer.alloc((1 << 20) + 4096, 'b'); // above the batch limit: streamed
const cases: Case[] = [
  {
    name: 'a digest that walks out of the cache (../../victim/important.txt) deletes and reads nothing',
    expect: /not 64 lowercase hex/,
    scenario: () => ({ entries: { 'a.txt': { digest: '../../victim/important.txt', size: PRECIOUS.length } } }),
  },
  {
    name: 'a path that climbs out of the root is refused',
    expect: /Invalid artifact path "\.\.\/escape\.txt"/,
    scenario: () => ({ entries: { '../escape.txt': { digest: sha(good), size: good.length } }, blobs: { [sha(good)]: good } }),
  },
  {
    name: 'an absolute path is refused',
    expect: /absolute/,
    scenario: (base) => ({ entries: { [`${base}/victim/x.txt`.slice(0)]: { digest: sha(good), size: good.length } }, blobs: { [sha(good)]: good } }),
  },
  {
    name: 'a path that is both a file and a folder is refused',
    expect: /both a file and a folder/,
    scenario: () => ({ entries: { a: { digest: sha(good), size: good.length }, 'a/b': { digest: sha(good), size: good.length } }, blobs: { [sha(good)]: good } }),
  },
  {
    name: 'the same content listed with two sizes is refused',
    expect: /two sizes|different sizes/,
    scenario: () => ({ entries: { a: { digest: sha(good), size: good.length }, b: { digest: sha(good), size: good.length + 1 } }, blobs: { [sha(good)]: good } }),
  },
  {
    name: 'a negative or fractional size is refused',
    expect: /invalid size|API contract/,
    scenario: () => ({ entries: { a: { digest: sha(good), size: -1 } }, blobs: { [sha(good)]: good } }),
  },
  {
    name: 'a manifest that is not the version it claims to be (artifact digest) is refused',
    expect: /artifact digest/,
    scenario: () => ({ entries: { a: { digest: sha(good), size: good.length } }, blobs: { [sha(good)]: good }, manifestDigest: sha('another manifest') }),
  },
  {
    name: 'a manifest whose file count disagrees with the version is refused',
    expect: /files where the version says/,
    scenario: () => ({ entries: { a: { digest: sha(good), size: good.length } }, blobs: { [sha(good)]: good }, version: { fileCount: 7 } }),
  },
  {
    name: 'a large file whose bytes are fewer than the manifest size is refused (streamed path)',
    expect: /bytes/,
    scenario: () => ({ entries: { 'big.bin': { digest: sha(big), size: big.length + 100 } }, blobs: { [sha(big)]: big } }),
  },
  {
    name: 'a flood of bytes for a 1 MiB entry stops at the manifest size',
    expect: /more than the \d+ bytes|more than \d+ bytes/,
    scenario: () => ({ entries: { 'big.bin': { digest: sha(big), size: big.length } }, floodBytes: 64 << 20 }),
    after: async (root, base) => {
      for (const d of [root, path.join(base, 'cache-ts'), path.join(base, 'cache-py')]) {
        const snap = existsSync(d) ? await snapshot(d, []) : {};
        for (const [f, v] of Object.entries(snap)) if (v !== 'dir') assert.ok(Number(v.split(' ')[0]) <= big.length + (1 << 20), `${f} grew to ${v}`);
      }
    },
  },
  {
    name: 'a cached blob whose size disagrees with the manifest is not copied into the root',
    expect: /bytes|ended after/,
    scenario: () => ({ entries: { 'a.txt': { digest: sha(good), size: good.length + 5 } }, blobs: { [sha(good)]: good } }),
    plantCache: { [sha(good)]: good },
    after: async (root) => assert.ok(!existsSync(path.join(root, 'a.txt')), 'no file of the wrong size'),
  },
  {
    name: 'a cache deleted in the middle of a download is remade, or the error says so (never a raw ENOENT)',
    expect: /download cache .* was deleted/,
    mayRecover: true,
    scenario: (base) => ({
      entries: { 'big.bin': { digest: sha(big), size: big.length } },
      blobs: { [sha(big)]: big },
      midBlob: async () => {
        // Half the blob is out: once the client has its temp file in the cache, the cache goes.
        // Its blob's temp file, not just any file: the manifest cache writes one before the blob
        // request, and removing the cache while the client was still creating folders in it
        // raced (rm failed with ENOTEMPTY, the response was cut short).
        const caches = ['cache-ts', 'cache-py'].map((c) => path.join(base, c));
        await waitFor('the client to open its file in the download cache', () => caches.some((c) => hasFile(path.join(c, 'blobs'))), 20_000);
        for (const c of caches) await rm(c, { recursive: true, force: true, maxRetries: 5 });
      },
    }),
    // An existing root takes the per-file path, where the blob goes through the cache.
    plant: async (root) => void (await mkdir(root, { recursive: true })),
    after: async (root) => {
      if (existsSync(path.join(root, 'big.bin'))) assert.deepEqual(await readFile(path.join(root, 'big.bin')), big);
    },
  },
  {
    name: 'wrong bytes are refused and nothing lands in the root',
    expect: /SHA-256/,
    scenario: () => ({ entries: { 'a.txt': { digest: sha(good), size: good.length } }, blobs: { [sha(good)]: Buffer.from('evil bytes\n') } }),
    after: async (root) => assert.ok(!existsSync(path.join(root, 'a.txt')), 'no file from wrong bytes'),
  },
  {
    name: 'a file symlink planted in the root (same content) is replaced by a regular file',
    scenario: () => ({ entries: { 'data.txt': { digest: sha(PRECIOUS), size: PRECIOUS.length } }, blobs: { [sha(PRECIOUS)]: PRECIOUS } }),
    plant: async (root, base) => {
      await mkdir(root, { recursive: true });
      await symlink(path.join(base, 'victim', 'important.txt'), path.join(root, 'data.txt'));
    },
    after: async (root) => {
      const st = await lstat(path.join(root, 'data.txt'));
      assert.ok(st.isFile() && !st.isSymbolicLink(), 'data.txt is a regular file now');
      assert.deepEqual(await readFile(path.join(root, 'data.txt')), PRECIOUS);
    },
  },
  {
    name: 'a file symlink planted in the root (other content) is replaced, its target untouched',
    scenario: () => ({ entries: { 'data.txt': { digest: sha(good), size: good.length } }, blobs: { [sha(good)]: good } }),
    plant: async (root, base) => {
      await mkdir(root, { recursive: true });
      await symlink(path.join(base, 'victim', 'important.txt'), path.join(root, 'data.txt'));
    },
    after: async (root) => {
      assert.ok((await lstat(path.join(root, 'data.txt'))).isFile());
      assert.deepEqual(await readFile(path.join(root, 'data.txt')), good);
    },
  },
  {
    name: 'a folder symlink planted in the root is not written through',
    expect: /outside/,
    scenario: () => ({ entries: { 'sub/x.txt': { digest: sha(good), size: good.length } }, blobs: { [sha(good)]: good } }),
    plant: async (root, base) => {
      await mkdir(root, { recursive: true });
      await symlink(path.join(base, 'victim'), path.join(root, 'sub'));
    },
  },
  {
    name: 'a version label that climbs out of ./artifacts is refused',
    expect: /API contract|version/,
    defaultRoot: true,
    scenario: () => ({ entries: { 'a.txt': { digest: sha(good), size: good.length } }, blobs: { [sha(good)]: good }, version: { version: 'v0/../../../victim' } }),
  },
  {
    name: 'an artifact name with a path in it is refused',
    expect: /API contract|name/,
    defaultRoot: true,
    scenario: () => ({ entries: { 'a.txt': { digest: sha(good), size: good.length } }, blobs: { [sha(good)]: good }, version: { name: '../../victim' } }),
  },
  {
    name: 'a reference to an internal http service (127.0.0.1) is not fetched',
    expect: /is 127\.0\.0\.1, a loopback or link-local address.*AMPHORA_REFERENCE_HOSTS=127\.0\.0\.1/,
    scenario: () => ({ entries: { 'secret.txt': { digest: `${internal.url}/secret`, size: 0, ref: `${internal.url}/secret`, extra: { checksum: false } } } }),
    after: noRequestToInternal,
  },
  {
    name: 'a reference to a name that resolves to loopback (localhost) is not fetched',
    expect: /which is localhost = (127\.0\.0\.1|::1), a loopback or link-local address/,
    scenario: () => ({ entries: { 'secret.txt': { digest: `http://localhost:${internalPort()}/secret`, size: 0, ref: `http://localhost:${internalPort()}/secret`, extra: { checksum: false } } } }),
    after: noRequestToInternal,
  },
  {
    name: 'a reference to the cloud metadata address (link-local 169.254.169.254) is not fetched',
    expect: /is 169\.254\.169\.254, a loopback or link-local address/,
    scenario: () => ({ entries: { creds: { digest: 'http://169.254.169.254/latest/meta-data/iam', size: 0, ref: 'http://169.254.169.254/latest/meta-data/iam', extra: { checksum: false } } } }),
  },
  {
    name: 'a file:// reference to a device (/dev/zero, endless) is not read',
    expect: /\/dev\/zero, which is not a regular file/,
    scenario: () => ({ entries: { 'zero.bin': { digest: 'file:///dev/zero', size: 0, ref: 'file:///dev/zero', extra: { checksum: false } } } }),
  },
  {
    name: 'a file:// reference without a checksum to a file the user did not allow is not copied',
    expect: /recorded without a checksum, so whatever is there would be copied unverified.*AMPHORA_FILE_REFERENCE_ROOTS=/,
    scenario: (base) => ({ entries: { 'stolen.txt': { digest: `file://${base}/victim/important.txt`, size: 0, ref: `file://${base}/victim/important.txt`, extra: { checksum: false } } } }),
  },
  {
    name: 'a checksummed file:// reference is read (its bytes must hash to the recorded digest: nothing the server does not know)',
    scenario: (base) => ({ entries: { 'notes.md': { digest: sha('# keep me\n'), size: 10, ref: `file://${base}/victim/notes.md` } } }),
    after: async (root) => assert.equal(await readFile(path.join(root, 'notes.md'), 'utf8'), '# keep me\n'),
  },
  {
    name: 'skip cache: wrong bytes in a batch are refused; nothing lands in the root or the cache',
    expect: /SHA-256/,
    skipCache: true,
    scenario: () => ({ entries: { 'a.txt': { digest: sha(good), size: good.length } }, blobs: { [sha(good)]: Buffer.from('evil bytes\n') } }),
    after: async (root, base) => {
      assert.ok(!existsSync(path.join(root, 'a.txt')), 'no file from wrong bytes');
      await cachesEmpty(root, base);
    },
  },
  {
    name: 'skip cache: a flood of bytes for a streamed 1 MiB entry stops at the manifest size',
    expect: /more than the \d+ bytes|more than \d+ bytes/,
    skipCache: true,
    scenario: () => ({ entries: { 'big.bin': { digest: sha(big), size: big.length } }, floodBytes: 64 << 20 }),
    after: cachesEmpty,
  },
  {
    name: 'skip cache: wrong bytes for a streamed file in an existing root leave no file behind',
    expect: /SHA-256/,
    skipCache: true,
    scenario: () => ({ entries: { 'big.bin': { digest: sha(big), size: big.length } }, blobs: { [sha(big)]: Buffer.alloc(big.length, 'e') } }),
    plant: async (root) => void (await mkdir(root, { recursive: true })),
    after: async (root, base) => {
      assert.deepEqual(await readdir(root), [], 'no file, no temp file');
      await cachesEmpty(root, base);
    },
  },
  {
    name: 'skip cache: a good download writes the root and adds nothing to the cache',
    skipCache: true,
    scenario: () => ({ entries: { 'a.txt': { digest: sha(good), size: good.length }, 'big.bin': { digest: sha(big), size: big.length }, 'big-again.bin': { digest: sha(big), size: big.length } }, blobs: { [sha(good)]: good, [sha(big)]: big } }),
    after: async (root, base) => {
      assert.deepEqual(await readFile(path.join(root, 'a.txt')), good);
      assert.deepEqual(await readFile(path.join(root, 'big.bin')), big);
      assert.deepEqual(await readFile(path.join(root, 'big-again.bin')), big);
      await cachesEmpty(root, base);
    },
  },
];

describe('security probe: a hostile server against both clients', function () {
  this.timeout(120_000);
  let base: string;
  let server: Hostile;

  before(async () => {
    assert.ok(existsSync(CLI), 'dist/cli.mjs is built (node esbuild.mjs)');
    server = await startHostile({ entries: {} });
    internal = await startBystander();
  });
  after(async () => {
    await server.close();
    await internal?.close();
  });
  beforeEach(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'amphora-probe-'));
    await mkdir(path.join(base, 'victim'));
    await writeFile(path.join(base, 'victim', 'important.txt'), PRECIOUS);
    await writeFile(path.join(base, 'victim', 'notes.md'), '# keep me\n');
    await mkdir(path.join(base, 'work'));
    // Caches that have been used: their folders exist (a hostile `..` digest resolves through them).
    for (const cache of ['cache-ts', 'cache-py']) await mkdir(path.join(base, cache, 'blobs', 'sha256'), { recursive: true });
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  const env = (cache: string) => ({
    ...process.env,
    AMPHORA_BASE_URL: server.url,
    AMPHORA_API_KEY: server.apiKey,
    AMPHORA_CACHE_DIR: cache,
    AMPHORA_STORAGE_ORIGINS: '',
    PYTHONPATH: path.join(REPO, 'python'),
  });

  async function typescript(c: Case, root: string): Promise<Outcome> {
    const cache = path.join(base, 'cache-ts');
    if (c.defaultRoot) {
      const r = await run('node', [CLI, 'artifact', 'get', 'probe/data:v0', '--json'], { cwd: path.join(base, 'work'), env: env(cache) }).then(
        (x) => ({ code: 0, out: x.stdout + x.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
      );
      return r.code === 0 ? { ok: true } : { ok: false, code: String(r.code), message: r.out };
    }
    const client = await Client.connect({ baseUrl: server.url, apiKey: server.apiKey, cacheDir: cache, env: {} });
    try {
      const art = await new Api({ client }).artifact('probe/data:v0');
      await art.download({ root, skipCache: c.skipCache });
      return { ok: true };
    } catch (e) {
      return { ok: false, code: (e as { code?: string }).code, message: (e as Error).message };
    } finally {
      await client.close();
    }
  }

  async function python(c: Case, root: string): Promise<Outcome> {
    const args = c.defaultRoot ? [PY, 'download-default', 'probe/data:v0'] : [PY, c.skipCache ? 'download-skip-cache' : 'download', 'probe/data:v0', root];
    const { stdout } = await run('python3', args, { cwd: path.join(base, 'work'), env: env(path.join(base, 'cache-py')), timeout: 60_000 });
    return JSON.parse(stdout.trim().split('\n').pop()!) as Outcome;
  }

  for (const c of cases) {
    for (const [client, drive] of [['TypeScript', typescript], ['Python', python]] as const) {
      it(`${client}: ${c.name}`, async () => {
        server.scenario = c.scenario(base);
        const root = path.join(base, `root-${client}`);
        await c.plant?.(root, base);
        for (const [d, bytes] of Object.entries(c.plantCache ?? {})) {
          for (const cache of ['cache-ts', 'cache-py']) {
            await mkdir(path.join(base, cache, 'blobs', 'sha256', d.slice(0, 2)), { recursive: true });
            await writeFile(path.join(base, cache, 'blobs', 'sha256', d.slice(0, 2), d), bytes);
          }
        }
        const allowed = [root, path.join(base, 'cache-ts'), path.join(base, 'cache-py'), path.join(base, 'work', 'artifacts')];
        const before = await snapshot(base, allowed);
        const outcome = await drive(c, root);
        assert.deepEqual(await snapshot(base, allowed), before, 'nothing outside the root and the cache changed');
        assert.deepEqual(await readFile(path.join(base, 'victim', 'important.txt')), PRECIOUS);
        if (c.mayRecover && outcome.ok) {
          // Recovered: fine, as long as what landed is right (checked in `after`).
        } else if (c.expect) {
          assert.equal(outcome.ok, false, `the client refused (${JSON.stringify(outcome)})`);
          assert.match(outcome.message ?? '', c.expect);
          assert.doesNotMatch(outcome.message ?? '', /^(ENOENT|EISDIR|Traceback)/);
        } else {
          assert.deepEqual(outcome, { ok: true });
        }
        await c.after?.(root, base);
      });
    }
  }

  describe('uploads and commits', () => {
    it('TypeScript and Python: an upload URL on another origin gets no request, and the error says so', async () => {
      const bystander = await startBystander();
      try {
        server.scenario = { entries: {}, uploadUrl: (d) => `${bystander.url}/steal/${d}` };
        const file = path.join(base, 'work', 'secret.txt');
        await writeFile(file, 'my secret data\n');
        const client = await Client.connect({ baseUrl: server.url, apiKey: server.apiKey, cacheDir: path.join(base, 'cache-ts'), env: {} });
        try {
          const art = new Artifact('data', 'dataset');
          await art.addFile(file);
          await assert.rejects(art.log({ client }), /neither the server.s route for this blob nor a storage URL/);
        } finally {
          await client.close();
        }
        const { stdout } = await run('python3', [PY, 'upload', file], { cwd: path.join(base, 'work'), env: env(path.join(base, 'cache-py')) });
        const py = JSON.parse(stdout.trim().split('\n').pop()!) as Outcome;
        assert.equal(py.ok, false);
        assert.match(py.message ?? '', /neither the server.s route for this blob nor a storage URL/);
        assert.deepEqual(bystander.hits, [], 'the bystander got no request');
      } finally {
        await bystander.close();
      }
    });

    it('TypeScript and Python: an upload URL with another scheme (file:) is refused', async () => {
      server.scenario = { entries: {}, uploadUrl: () => `file://${base}/victim/important.txt` };
      const file = path.join(base, 'work', 'secret.txt');
      await writeFile(file, 'other data\n');
      const client = await Client.connect({ baseUrl: server.url, apiKey: server.apiKey, cacheDir: path.join(base, 'cache-ts'), env: {} });
      try {
        const art = new Artifact('data', 'dataset');
        await art.addFile(file);
        await assert.rejects(art.log({ client }), /uses file:/);
      } finally {
        await client.close();
      }
      const { stdout } = await run('python3', [PY, 'upload', file], { cwd: path.join(base, 'work'), env: env(path.join(base, 'cache-py')) });
      assert.match((JSON.parse(stdout.trim().split('\n').pop()!) as Outcome).message ?? '', /uses file:/);
      assert.deepEqual(await readFile(path.join(base, 'victim', 'important.txt')), PRECIOUS);
    });

    it('TypeScript and Python: a commit answered with another digest is an error, not a success', async () => {
      server.scenario = { entries: {}, commitDigest: sha('not what was sent') };
      const file = path.join(base, 'work', 'data.txt');
      await writeFile(file, 'data\n');
      const client = await Client.connect({ baseUrl: server.url, apiKey: server.apiKey, cacheDir: path.join(base, 'cache-ts'), env: {} });
      try {
        const art = new Artifact('data', 'dataset');
        await art.addFile(file);
        await assert.rejects(art.log({ client }), /files sent hash to/);
      } finally {
        await client.close();
      }
      const { stdout } = await run('python3', [PY, 'upload', file], { cwd: path.join(base, 'work'), env: env(path.join(base, 'cache-py')) });
      assert.match((JSON.parse(stdout.trim().split('\n').pop()!) as Outcome).message ?? '', /files sent hash to/);
    });
  });
});
