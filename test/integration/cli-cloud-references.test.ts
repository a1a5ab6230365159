/** `amphora artifact put s3://…` / `get` through the bundled CLI (dist/cli.mjs + its vendor bundle) against s3rver. */
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startS3rverRefs, type S3rverRefs } from '../support/s3rverRefs.js';
import { testBackend } from './server-helpers.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe('amphora CLI with s3:// references (dist/cli.mjs against a real server and s3rver)', function () {
  this.timeout(120_000);
  let base: string;
  let server: { url: string; apiKey: string; close(): Promise<void> };
  let backend: Awaited<ReturnType<typeof testBackend>> | undefined;
  let s3: S3rverRefs;
  let env: NodeJS.ProcessEnv;

  const cli = (args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Result> =>
    new Promise((resolve, reject) => {
      const childEnv = { ...env, ...extraEnv };
      for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
      const child = spawn(process.execPath, ['dist/cli.mjs', ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
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
  const json = async (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    const r = await cli(['--json', ...args], extraEnv);
    assert.equal(r.code, 0, `amphora ${args.join(' ')} failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    execFileSync(process.execPath, ['esbuild.mjs'], { stdio: 'ignore' });
    base = await mkdtemp(path.join(tmpdir(), 'amphora-cli-s3-'));
    const { startServer } = await import('../../src/server/index.js');
    backend = await testBackend(path.join(base, 'data'));
    [server, s3] = await Promise.all([
      startServer({ ...backend.options, host: '127.0.0.1', port: 0, quiet: true, logLevel: 'silent' }),
      startS3rverRefs(['cli-refs']),
    ]);
    env = { PATH: process.env.PATH, HOME: base, AMPHORA_BASE_URL: server.url, AMPHORA_API_KEY: server.apiKey, AMPHORA_CACHE_DIR: path.join(base, 'cache'), ...s3.env };
    await s3.put('cli-refs', 'ds/a.txt', 'alpha');
    await s3.put('cli-refs', 'ds/sub/b.txt', 'beta');
    await s3.put('cli-refs', 'one/model.bin', 'weights v1');
  });
  after(async () => {
    await Promise.all([server?.close(), s3?.close()]);
    await backend?.drop();
    if (base) await rm(base, { recursive: true, force: true });
  });

  it('put s3://bucket/prefix/ logs a reference version; get downloads it from the bucket', async () => {
    const v = await json(['artifact', 'put', 's3://cli-refs/ds/', '--name', 'cli/s3-ds', '--type', 'dataset']);
    assert.equal(v.version, 'v0');
    assert.equal(v.fileCount, 2);
    const root = path.join(base, 'got-ds');
    const r = await json(['artifact', 'get', 'cli/s3-ds', '--root', root]);
    assert.equal(r.fetched, 2);
    assert.equal(await readFile(path.join(root, 'a.txt'), 'utf8'), 'alpha');
    assert.equal(await readFile(path.join(root, 'sub', 'b.txt'), 'utf8'), 'beta');
  });

  it('get of a changed object fails with exit 5 and says what changed; nothing is written', async () => {
    const v = await json(['artifact', 'put', 's3://cli-refs/one/model.bin', '--name', 'cli/s3-model', '--type', 'model']);
    assert.equal(v.fileCount, 1);
    await s3.put('cli-refs', 'one/model.bin', 'weights v2');
    const root = path.join(base, 'got-model');
    const r = await cli(['artifact', 'get', 'cli/s3-model', '--root', root]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /"model\.bin" at s3:\/\/cli-refs\/one\/model\.bin changed since it was logged/);
    await assert.rejects(stat(root));
  });

  it('--no-checksum records the URI (no credentials needed to log); --max-objects caps a prefix', async () => {
    const digest = createHash('sha256').update('amphora-manifest-v1\nmodel.bin:s3://cli-refs/one/model.bin\n').digest('hex');
    const v = await json(['artifact', 'put', 's3://cli-refs/one/model.bin', '--no-checksum', '--name', 'cli/s3-loose', '--type', 'model'], { AWS_ACCESS_KEY_ID: undefined });
    assert.equal(v.digest, digest);
    const capped = await cli(['artifact', 'put', 's3://cli-refs/ds/', '--max-objects', '1', '--name', 'cli/s3-capped', '--type', 'dataset']);
    assert.equal(capped.code, 5);
    assert.match(capped.stderr, /more than max_objects=1 objects/);
    const local = await cli(['artifact', 'put', base, '--no-checksum', '--name', 'cli/local', '--type', 'dataset']);
    assert.equal(local.code, 5);
    assert.match(local.stderr, /apply to reference URIs/);
  });

  it('missing credentials exit 1 naming the variables; a missing bucket exits 3; an unknown scheme exits 5 naming it', async () => {
    const noCreds = await cli(['artifact', 'put', 's3://cli-refs/ds/', '--name', 'cli/x', '--type', 'dataset'], { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined });
    assert.equal(noCreds.code, 1);
    assert.match(noCreds.stderr, /No AWS credentials.*AWS_ACCESS_KEY_ID/);
    const noBucket = await cli(['artifact', 'put', 's3://no-such-bucket/k', '--name', 'cli/x', '--type', 'dataset']);
    assert.equal(noBucket.code, 3);
    assert.match(noBucket.stderr, /Bucket "no-such-bucket" does not exist/);
    const ftp = await cli(['artifact', 'put', 'ftp://host/file.csv', '--name', 'cli/x', '--type', 'dataset']);
    assert.equal(ftp.code, 5);
    assert.match(ftp.stderr, /scheme "ftp"/);
  });
});
