import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI habits W&B users bring (short flags, --version, project listing) and messages that say what happened. */
describe('amphora CLI: W&B habits and clear messages (dist/cli.mjs against a real server)', function () {
  this.timeout(120_000);
  let base: string;
  let server: { url: string; apiKey: string; close(): Promise<void> };
  let env: NodeJS.ProcessEnv;

  const cli = (args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Result> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['dist/cli.mjs', ...args], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  const json = async (args: string[]) => {
    const r = await cli(['--json', ...args]);
    assert.equal(r.code, 0, `amphora ${args.join(' ')} failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    execFileSync(process.execPath, ['esbuild.mjs'], { stdio: 'ignore' });
    base = await mkdtemp(path.join(tmpdir(), 'amphora-cli-wb-'));
    const { startServer } = await import('../../src/server/index.js');
    server = await startServer({ dataDir: path.join(base, 'data'), host: '127.0.0.1', port: 0, quiet: true, logLevel: 'silent' });
    env = { PATH: process.env.PATH, HOME: base, AMPHORA_BASE_URL: server.url, AMPHORA_API_KEY: server.apiKey, AMPHORA_CACHE_DIR: path.join(base, 'cache') };
    await mkdir(path.join(base, 'ds'), { recursive: true });
    await writeFile(path.join(base, 'ds', 'a.txt'), 'alpha');
  });
  after(async () => {
    await server?.close();
    await rm(base, { recursive: true, force: true });
  });

  it('put takes -n -t -a -d; a deduplicated re-put says "unchanged" and --json has created: false', async () => {
    const v = await json(['artifact', 'put', path.join(base, 'ds'), '-n', 'wb/raw', '-t', 'dataset', '-a', 'best', '-d', 'raw data']);
    assert.deepEqual([v.version, v.created, [...v.aliases].sort()], ['v0', true, ['best', 'latest']]);
    const again = await cli(['artifact', 'put', path.join(base, 'ds'), '-n', 'wb/raw', '-t', 'dataset']);
    assert.equal(again.code, 0);
    assert.ok(again.stdout.startsWith(`unchanged: ${v.entity}/wb/raw:v0 (no new version`), again.stdout);
    const againJson = await json(['artifact', 'put', path.join(base, 'ds'), '-n', 'wb/raw', '-t', 'dataset']);
    assert.deepEqual([againJson.version, againJson.created], ['v0', false]);
  });

  it('get --type checks the type; --root puts the files there', async () => {
    const root = path.join(base, 'got');
    assert.equal((await json(['artifact', 'get', 'wb/raw:best', '--type', 'dataset', '--root', root])).version, 'v0');
    assert.equal(await readFile(path.join(root, 'a.txt'), 'utf8'), 'alpha');
    const wrong = await cli(['artifact', 'get', 'wb/raw', '--type', 'model']);
    assert.equal(wrong.code, 5);
    assert.match(wrong.stderr, /type "dataset", not "model"/);
  });

  it('ls without a project lists the projects, as does project ls', async () => {
    const ls = await json(['artifact', 'ls']);
    assert.ok(ls.items.some((p: { name: string; artifactCount: number }) => p.name === 'wb' && p.artifactCount === 1));
    const text = await cli(['artifact', 'ls']);
    assert.match(text.stdout, /PROJECT[\s\S]*\bwb\b[\s\S]*amphora artifact ls PROJECT/);
    const projects = await json(['project', 'ls']);
    assert.deepEqual(projects.items.map((p: { name: string }) => p.name), ls.items.map((p: { name: string }) => p.name));
    const inProject = await json(['artifact', 'ls', 'wb']);
    assert.deepEqual(inProject.items.map((i: { name: string }) => i.name), ['raw']);
  });

  it('alias add says which version the alias moved from', async () => {
    await writeFile(path.join(base, 'ds', 'a.txt'), 'alpha 2');
    await json(['artifact', 'put', path.join(base, 'ds'), '-n', 'wb/raw', '-t', 'dataset']);
    const moved = await cli(['artifact', 'alias', 'add', 'wb/raw:v1', 'best']);
    assert.equal(moved.code, 0);
    assert.match(moved.stdout, /moved best from v0 to v1/);
    const fresh = await json(['artifact', 'alias', 'add', 'wb/raw:v1', 'prod']);
    assert.deepEqual([fresh.from, fresh.to], [null, 'v1']);
  });

  it('rm of a version holding only latest is refused in command-line words', async () => {
    const refused = await cli(['artifact', 'rm', 'wb/raw:v1']);
    assert.equal(refused.code, 5);
    assert.match(refused.stderr, /latest/);
    assert.match(refused.stderr, /amphora artifact rm wb\/raw:v1 --delete-aliases/);
    assert.doesNotMatch(refused.stderr, /delete_aliases|deleteAliases/);
  });

  it('--version, --json in every subcommand help, JSON usage errors, bad --depth is a usage error', async () => {
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    const version = await cli(['--version']);
    assert.deepEqual([version.code, version.stdout.trim()], [0, pkg.version]);
    const leaves = [['serve'], ['artifact', 'put'], ['artifact', 'get'], ['artifact', 'ls'], ['artifact', 'versions'], ['artifact', 'alias', 'add'], ['artifact', 'alias', 'rm'], ['artifact', 'rm'], ['lineage'], ['cache', 'cleanup'], ['gc'], ['project', 'ls'], ['sync']];
    for (const cmd of leaves) {
      const help = await cli([...cmd, '--help']);
      assert.equal(help.code, 0, cmd.join(' '));
      assert.match(help.stdout, /--json/, `${cmd.join(' ')} --help lists --json`);
    }
    const usage = await cli(['artifact', 'put', '--json']);
    assert.equal(usage.code, 2);
    assert.equal(JSON.parse(usage.stdout).error.code, 'usage');
    const depth = await cli(['lineage', 'wb/raw', '--depth', 'two']);
    assert.equal(depth.code, 2);
    assert.match(depth.stderr, /--depth[\s\S]*whole number/);
  });

  it('URIs: an unknown scheme is named; --no-checksum tracks an http URL by address; messages use CLI words', async () => {
    const ftp = await cli(['artifact', 'put', 'ftp://example.invalid/x.csv', '-n', 'wb/ftp', '-t', 'dataset']);
    assert.equal(ftp.code, 5);
    assert.match(ftp.stderr, /"ftp:?"/);
    const unreachable = 'http://127.0.0.1:9/data.csv';
    const refused = await cli(['artifact', 'put', unreachable, '-n', 'wb/remote', '-t', 'dataset']);
    assert.equal(refused.code, 5);
    assert.match(refused.stderr, /--no-checksum/);
    assert.doesNotMatch(refused.stderr, /checksum: false/);
    const tracked = await json(['artifact', 'put', unreachable, '-n', 'wb/remote', '-t', 'dataset', '--no-checksum']);
    assert.equal(tracked.fileCount, 1);
    const notUri = await cli(['artifact', 'put', path.join(base, 'ds'), '-n', 'wb/x', '-t', 'dataset', '--no-checksum']);
    assert.equal(notUri.code, 5);
    assert.match(notUri.stderr, /apply to reference URIs/);
  });

  it('AMPHORA_BASE_URL without a scheme: "must start with http:// or https://"', async () => {
    const r = await cli(['artifact', 'ls', 'wb'], { AMPHORA_BASE_URL: server.url.replace(/^http:\/\//, '') });
    assert.equal(r.code, 5);
    assert.match(r.stderr, /must start with http:\/\/ or https:\/\//);
  });

  it('name errors give an example of the right kind (a type is not shown an artifact name)', async () => {
    const r = await cli(['artifact', 'put', path.join(base, 'ds'), '-n', 'wb/ok', '-t', 'bad type']);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /artifact type "bad type"[\s\S]*for example "dataset"/);
  });

  it('artifact link SRC TARGET -a ALIAS links into a registry; linking again says so; a bad target is refused', async () => {
    await json(['artifact', 'put', path.join(base, 'ds'), '-n', 'wb/linked-src', '-t', 'model']);
    const first = await cli(['artifact', 'link', 'wb/linked-src:v0', 'wandb-registry-model/wb-models', '-a', 'staging']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^linked wb\/linked-src:v0 as wandb-registry-model\/wb-models:v0 \[latest, staging\]/);
    const again = await json(['artifact', 'link', 'wb/linked-src', 'wandb-registry-model/wb-models', '-a', 'prod']);
    assert.deepEqual([again.created, again.version, again.linkedFrom.name, [...again.aliases].sort()], [false, 'v0', 'linked-src', ['latest', 'prod', 'staging']]);
    const got = await json(['artifact', 'get', 'wandb-registry-model/wb-models:prod', '--root', path.join(base, 'from-registry')]);
    const logged = await readFile(path.join(base, 'ds', 'a.txt'), 'utf8');
    assert.equal(await readFile(path.join(base, 'from-registry', 'a.txt'), 'utf8'), logged, JSON.stringify(got));
    const bad = await cli(['artifact', 'link', 'wb/linked-src', 'no-collection']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /wandb-registry-NAME\/COLLECTION/);
  });
});
