import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { itEmbedded, testBackend } from './server-helpers.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe('amphora CLI (dist/cli.mjs against a real server)', function () {
  this.timeout(120_000);
  let base: string;
  let server: { url: string; apiKey: string; close(): Promise<void> };
  let backend: Awaited<ReturnType<typeof testBackend>> | undefined;
  let env: NodeJS.ProcessEnv;

  const cli = (args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Result> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['dist/cli.mjs', ...args], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
    });
  const json = async (args: string[]) => {
    const r = await cli(['--json', ...args]);
    assert.equal(r.code, 0, `amphora ${args.join(' ')} failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    execFileSync(process.execPath, ['esbuild.mjs'], { stdio: 'ignore' });
    base = await mkdtemp(path.join(tmpdir(), 'amphora-cli-'));
    const { startServer } = await import('../../src/server/index.js');
    backend = await testBackend(path.join(base, 'data'));
    server = await startServer({ ...backend.options, host: '127.0.0.1', port: 0, quiet: true, logLevel: 'silent' });
    env = { PATH: process.env.PATH, HOME: base, AMPHORA_BASE_URL: server.url, AMPHORA_API_KEY: server.apiKey, AMPHORA_CACHE_DIR: path.join(base, 'cache') };
    await mkdir(path.join(base, 'ds', 'sub'), { recursive: true });
    await writeFile(path.join(base, 'ds', 'a.txt'), 'alpha');
    await writeFile(path.join(base, 'ds', 'sub', 'b.txt'), 'beta');
  });
  after(async () => {
    await server?.close();
    await backend?.drop();
    await rm(base, { recursive: true, force: true });
  });

  it('put logs a folder (--json gives the version); putting it again is the same version', async () => {
    const v = await json(['artifact', 'put', path.join(base, 'ds'), '--name', 'cli/mnist-raw', '--type', 'dataset', '--alias', 'best', '--description', 'raw', '--metadata', '{"n":2}']);
    assert.equal(v.version, 'v0');
    assert.equal(v.fileCount, 2);
    assert.deepEqual([...v.aliases].sort(), ['best', 'latest']);
    const again = await json(['artifact', 'put', path.join(base, 'ds'), '--name', 'cli/mnist-raw', '--type', 'dataset']);
    assert.equal(again.version, 'v0');
    const human = await cli(['artifact', 'put', path.join(base, 'ds', 'a.txt'), '--name', 'cli/single', '--type', 'dataset', '--alias', 'keep']);
    assert.equal(human.code, 0);
    assert.ok(human.stdout.startsWith(`Logged ${v.entity}/cli/single:v0`), human.stdout);
  });

  it('whoami names the user behind the key, the server and the roles it holds', async () => {
    const me = await json(['whoami']);
    assert.equal(me.server, server.url);
    assert.equal(typeof me.entity, 'string');
    assert.ok(me.defaultProject);
    const text = await cli(['whoami']);
    assert.equal(text.code, 0);
    assert.ok(text.stdout.includes(` on ${server.url} (`), text.stdout);
    assert.ok(text.stdout.includes(`Default entity/project: ${me.entity}/${me.defaultProject}`), text.stdout);
  });

  it('get downloads into --root; ls and versions list what is there', async () => {
    const root = path.join(base, 'got');
    const r = await json(['artifact', 'get', 'cli/mnist-raw:best', '--root', root]);
    assert.equal(r.version, 'v0');
    assert.equal(await readFile(path.join(root, 'sub', 'b.txt'), 'utf8'), 'beta');
    const ls = await json(['artifact', 'ls', 'cli']);
    assert.deepEqual(ls.items.map((i: { name: string }) => i.name).sort(), ['mnist-raw', 'single']);
    const versions = await json(['artifact', 'versions', 'cli/mnist-raw']);
    assert.deepEqual(versions.items.map((i: { version: string }) => i.version), ['v0']);
    const text = await cli(['artifact', 'ls', 'cli']);
    assert.match(text.stdout, /mnist-raw\s+dataset/);
  });

  it('alias add/rm move aliases; rm refuses an aliased version (exit 5) unless --delete-aliases', async () => {
    const added = await json(['artifact', 'alias', 'add', 'cli/mnist-raw:v0', 'production']);
    assert.ok(added.aliases.includes('production'));
    const removed = await json(['artifact', 'alias', 'rm', 'cli/mnist-raw:v0', 'production']);
    assert.ok(!removed.aliases.includes('production'));
    const refused = await cli(['artifact', 'rm', 'cli/single:v0']);
    assert.equal(refused.code, 5);
    assert.match(refused.stderr, /--delete-aliases/);
    const deleted = await json(['artifact', 'rm', 'cli/single:v0', '--delete-aliases']);
    assert.equal(deleted.state, 'deleted');
  });

  it('lineage prints the graph (--json)', async () => {
    const g = await json(['lineage', 'cli/mnist-raw:v0', '--depth', '1']);
    assert.ok(g.nodes.some((n: { kind: string }) => n.kind === 'artifact'));
    const t = await json(['lineage', 'cli/mnist-raw', '--type-level']);
    assert.equal(t.level, 'type');
  });

  it('gc --dry-run and cache cleanup report what they did', async () => {
    const gc = await json(['gc', '--dry-run', '--grace', '0']);
    assert.equal(typeof gc.deletedBlobs, 'number');
    const cc = await json(['cache', 'cleanup', '0']);
    assert.ok(cc.removed >= 2, 'cached blobs of the logged files are evicted');
    assert.equal(cc.keptBytes, 0);
    assert.equal(typeof cc.statCache.folders, 'number', 'and reports the stat-cache folders it forgot');
  });

  it('exit codes: 3 not found, 2 usage, 4 unreachable, 5 invalid input; errors say what to do', async () => {
    const nf = await cli(['artifact', 'get', 'cli/nope']);
    assert.equal(nf.code, 3);
    assert.match(nf.stderr, /nope/);
    const nfJson = await cli(['--json', 'artifact', 'versions', 'cli/nope']);
    assert.equal(nfJson.code, 3);
    assert.equal(JSON.parse(nfJson.stdout).error.code, 'not_found');
    assert.equal((await cli(['artifact', 'put'])).code, 2);
    assert.equal((await cli(['artifact', 'frobnicate'])).code, 2);
    assert.equal((await cli(['artifact', 'get', 'x', '--bogus'])).code, 2);
    const down = await cli(['artifact', 'ls'], { AMPHORA_BASE_URL: 'http://127.0.0.1:9' });
    assert.equal(down.code, 4);
    assert.match(down.stderr, /amphora serve/);
    const badName = await cli(['artifact', 'put', path.join(base, 'ds'), '--name', 'bad name', '--type', 'dataset']);
    assert.equal(badName.code, 5);
    assert.match(badName.stderr, /letters, digits/);
    const typeChange = await cli(['artifact', 'put', path.join(base, 'ds'), '--name', 'cli/mnist-raw', '--type', 'model']);
    assert.equal(typeChange.code, 5);
    const badJson = await cli(['artifact', 'put', path.join(base, 'ds'), '--name', 'x', '--type', 'dataset', '--metadata', '{nope']);
    assert.equal(badJson.code, 5);
    const help = await cli(['artifact', 'get', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Exit codes:[\s\S]*4\s+server unreachable/);
  });

  itEmbedded('serve prints where it listens and where its data lives, refuses a second server on the same data dir, and stops on Ctrl-C', async () => {
    const dataDir = path.join(base, 'served');
    const child = spawn(process.execPath, ['dist/cli.mjs', '--json', 'serve', '--port', '0', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        const t = setTimeout(() => reject(new Error('serve did not print within 60 s')), 60_000);
        child.stdout.on('data', (d) => {
          buf += d;
          const end = buf.lastIndexOf('}');
          if (end !== -1) {
            try {
              JSON.parse(buf.slice(0, end + 1));
              clearTimeout(t);
              resolve(buf.slice(0, end + 1));
            } catch {
              /* not complete yet */
            }
          }
        });
      });
      const info = JSON.parse(line);
      assert.equal(info.dataDir, dataDir);
      const health = await fetch(`${info.url}/api/v1/health`);
      assert.equal(health.status, 200);
      const second = await cli(['serve', '--port', '0', '--data-dir', dataDir]);
      assert.notEqual(second.code, 0);
      assert.match(second.stderr, /amphora: .+/);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGINT');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
