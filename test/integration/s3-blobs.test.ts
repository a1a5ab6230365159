/**
 * The S3 blob store against a real S3-compatible server (s3rver on loopback): presigned transfers
 * from both clients, multipart, verification before anything counts as present, GC, bad input.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { freePort } from '../support/freePort.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Artifact, init } from '../../src/client/index.js';
import { Client } from '../../src/client/client.js';
import { AmphoraError } from '../../src/core/errors.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { startS3rver, type S3rverHandle } from '../support/s3rver.js';
import { Api, sha256 } from './server-helpers.js';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const MiB = 1 << 20;

describe('S3 blob store against s3rver', function () {
  this.timeout(180_000);
  let s3: S3rverHandle;
  let restoreEnv: () => void;
  let raw: S3Client;
  let base: string;
  const servers: RunningServer[] = [];
  const clients: Client[] = [];
  let n = 0;
  const MULTIPART_ENV = { AMPHORA_S3_MULTIPART_THRESHOLD: String(6 * MiB), AMPHORA_S3_PART_SIZE: String(5 * MiB) };
  /** Two servers for the whole file (a fresh data dir costs an initdb): plain, and multipart from 6 MiB. */
  let main: { server: RunningServer; api: Api; prefix: string };
  let multi: { server: RunningServer; api: Api; prefix: string };

  before(async () => {
    s3 = await startS3rver('amphora-s3-test');
    restoreEnv = s3.applyEnv();
    raw = new S3Client({ forcePathStyle: true });
    base = mkdtempSync(path.join(tmpdir(), 'amphora-s3it-'));
    main = await server('main');
    multi = await server('multi', MULTIPART_ENV);
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    for (const s of servers) await s.close().catch(() => undefined);
    raw?.destroy();
    restoreEnv?.();
    await s3?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  /** A server on its own data dir and key prefix in the shared bucket. */
  async function server(prefix = `p${++n}`, env: Record<string, string> = {}): Promise<{ server: RunningServer; api: Api; prefix: string }> {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      const srv = await startServer({ dataDir: path.join(base, `data-${prefix}`), quiet: true, blobs: `s3://${s3.bucket}/${prefix}` });
      servers.push(srv);
      return { server: srv, api: new Api(srv.url, srv.apiKey), prefix };
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }

  async function client(srv: RunningServer, requests?: string[]): Promise<Client> {
    const c = await Client.connect({ baseUrl: srv.url, apiKey: srv.apiKey, cacheDir: path.join(base, `cache-${++n}`), env: {}, onRequest: requests ? (m, p) => requests.push(`${m} ${p}`) : undefined });
    clients.push(c);
    return c;
  }

  async function keys(prefix: string): Promise<string[]> {
    const out = await raw.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix + '/' }));
    return (out.Contents ?? []).map((o) => o.Key!).sort();
  }

  async function objectBytes(key: string): Promise<Buffer> {
    const r = await raw.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    return Buffer.from(await r.Body!.transformToByteArray());
  }

  const finalKey = (prefix: string, digest: string) => `${prefix}/sha256/${digest.slice(0, 2)}/${digest}`;

  async function logAndDownload(srv: RunningServer, files: Record<string, Buffer>, requests: string[]) {
    const name = `data${++n}`;
    const src = path.join(base, `src-${name}`);
    for (const [p, b] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(src, p)), { recursive: true });
      await writeFile(path.join(src, p), b);
    }
    const producer = await init({ client: await client(srv, requests), project: 's3', jobType: 'make' });
    const art = new Artifact(name, 'dataset');
    await art.addDir(src);
    await producer.logArtifact(art);
    await producer.finish();
    const consumer = await init({ client: await client(srv, requests), project: 's3', jobType: 'use' });
    const used = await consumer.useArtifact(`${name}:latest`);
    const { root } = await used.download({ root: path.join(base, `out-${name}`) });
    await consumer.finish();
    for (const [p, b] of Object.entries(files)) assert.ok((await readFile(path.join(root, p))).equals(b), `${p} downloads byte-identical`);
  }

  it('TS client: a large blob goes to the bucket by presigned PUT and comes back by redirect; small ones are batched through the server', async () => {
    const { server: srv, prefix } = main;
    const big = randomBytes(3 * MiB);
    const files = { 'big.bin': big, 'a.txt': Buffer.from('small a'), 'b.txt': Buffer.from('small b') };
    const requests: string[] = [];
    await logAndDownload(srv, files, requests);
    const d = sha256(big);
    // The server never carried the large blob: no PUT to its blob route, one confirm, and the bytes sit under the final key.
    assert.equal(requests.filter((r) => r.startsWith(`PUT /api/v1/blobs/${d}`)).length, 0);
    assert.equal(requests.filter((r) => r === 'POST /api/v1/blobs/confirm').length, 1);
    assert.ok(requests.some((r) => r.startsWith(`PUT /${s3.bucket}/${prefix}/staging/${d}.`)), 'presigned PUT to the staging key');
    assert.ok(requests.some((r) => r.startsWith(`GET /${s3.bucket}/${prefix}/sha256/`)), 'download followed the redirect to the bucket');
    assert.equal(requests.filter((r) => r === 'POST /api/v1/blobs/batch').length, 1, 'the two small files travel in one batch');
    assert.ok((await objectBytes(finalKey(prefix, d))).equals(big));
    assert.deepEqual((await keys(prefix)).filter((k) => k.includes(`/staging/${d}`)), [], 'staging objects are removed once verified');
  });

  it('TS client: 600 small files travel in one batch and land in one pack object, not 600; downloads byte-identical, also one by one with a Range', async () => {
    const { server: srv, prefix, api } = main;
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 600; i++) files[`d${i % 7}/f${i}.bin`] = randomBytes(1000 + i);
    const before = (await keys(prefix)).filter((k) => k.includes('/packs/')).length;
    const requests: string[] = [];
    await logAndDownload(srv, files, requests);
    const after = await keys(prefix);
    assert.equal(after.filter((k) => k.includes('/packs/')).length - before, 1, 'one pack for the batch');
    for (const b of Object.values(files)) assert.ok(!after.includes(finalKey(prefix, sha256(b))), 'no object per small blob');
    assert.equal(requests.filter((r) => r === 'POST /api/v1/blobs/batch-get').length, 1);
    const one = files['d3/f10.bin'];
    const whole = await fetch(`${api.url}/api/v1/blobs/${sha256(one)}`, { headers: { authorization: `Bearer ${api.key}` } });
    assert.equal(whole.status, 200, 'served by the replica, not redirected');
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(one));
    const part = await fetch(`${api.url}/api/v1/blobs/${sha256(one)}`, { headers: { authorization: `Bearer ${api.key}`, range: 'bytes=10-19' } });
    assert.equal(part.status, 206);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(one.subarray(10, 20)));
  });

  it('TS client: multipart upload (presigned parts + confirm), byte-identical download', async () => {
    const { server: srv, prefix } = multi;
    const big = randomBytes(12 * MiB + 123);
    const requests: string[] = [];
    await logAndDownload(srv, { 'model.pt': big }, requests);
    const parts = requests.filter((r) => r.startsWith(`PUT /${s3.bucket}/${prefix}/staging/`) && r.includes('partNumber='));
    assert.equal(parts.length, 3, 'three 5 MiB parts');
    assert.ok((await objectBytes(finalKey(prefix, sha256(big)))).equals(big));
  });

  it('Python client: presigned single and multipart uploads and redirected downloads round-trip', async () => {
    const { server: srv } = multi;
    const work = path.join(base, `py-${++n}`);
    await mkdir(path.join(work, 'data'), { recursive: true });
    const files = { 'data/small.txt': Buffer.from('hello'), 'data/mid.bin': randomBytes(2 * MiB), 'data/big.bin': randomBytes(11 * MiB) };
    for (const [p, b] of Object.entries(files)) await writeFile(path.join(work, p), b);
    const script = `
import os, sys
import amphora as wandb
with wandb.init(project="py-s3", job_type="make") as run:
    a = wandb.Artifact("pydata", type="dataset")
    a.add_dir("data")
    run.log_artifact(a)
os.environ["AMPHORA_CACHE_DIR"] = os.path.abspath("cache2")
import amphora.api
with wandb.init(project="py-s3", job_type="use") as run:
    print(run.use_artifact("pydata:latest").download(root="out"))
`;
    const r = await run('python3', ['-c', script], {
      cwd: work,
      env: { ...process.env, PYTHONPATH: path.join(REPO, 'python'), AMPHORA_BASE_URL: srv.url, AMPHORA_API_KEY: srv.apiKey, AMPHORA_CACHE_DIR: path.join(work, 'cache1') },
    });
    assert.equal(r.status, 0, r.stderr);
    for (const [p, b] of Object.entries(files)) assert.ok((await readFile(path.join(work, 'out', path.basename(p)))).equals(b), `${p} byte-identical`);
  });

  async function negotiate(api: Api, data: Buffer) {
    const res = await api.post('/api/v1/blobs/negotiate', { blobs: [{ digest: sha256(data), size: data.length }] });
    assert.equal(res.status, 200);
    return res.body.missing[0] as { uploadUrl: string; headers: Record<string, string>; confirm: string };
  }

  async function commit(api: Api, data: Buffer, name: string) {
    return api.post(`/api/v1/projects/${await api.entity()}/s3/artifacts/${name}/versions`, { type: 'dataset', manifest: { 'f.bin': { digest: sha256(data), size: data.length } } });
  }

  it('a truncated or wrong presigned upload is refused at confirm, discarded, and the commit says missing_blobs', async () => {
    const { api, prefix } = main;
    const data = randomBytes(2 * MiB);
    const digest = sha256(data);
    const m = await negotiate(api, data);
    assert.ok(m.confirm && m.uploadUrl.startsWith(s3.endpoint), 'a presigned storage URL with a confirm token');
    // Half the bytes arrive (what an interrupted PUT leaves in s3rver).
    assert.equal((await fetch(m.uploadUrl, { method: 'PUT', body: data.subarray(0, MiB), headers: m.headers })).status, 200);
    const c1 = await api.post('/api/v1/blobs/confirm', { blobs: [{ digest, size: data.length, confirm: m.confirm }] });
    assert.equal(c1.status, 422);
    assert.equal(c1.body.error.code, 'digest_mismatch');
    assert.match(c1.body.error.message, /do not hash to their digest .* hashes to [0-9a-f]{64}\); they were discarded/);
    assert.equal((await commit(api, data, 'trunc')).body.error.code, 'missing_blobs');
    assert.deepEqual((await keys(prefix)).filter((k) => k.includes(digest)), [], 'the bad staging object is deleted and nothing reached the final key');
    // Other bytes under the same digest: same answer.
    const m2 = await negotiate(api, data);
    await fetch(m2.uploadUrl, { method: 'PUT', body: randomBytes(data.length), headers: m2.headers });
    assert.equal((await api.post('/api/v1/blobs/confirm', { blobs: [{ digest, size: data.length, confirm: m2.confirm }] })).status, 422);
    // Never uploaded at all: missing_blobs, not a crash.
    const m3 = await negotiate(api, data);
    const c3 = await api.post('/api/v1/blobs/confirm', { blobs: [{ digest, size: data.length, confirm: m3.confirm }] });
    assert.equal(c3.status, 409);
    assert.equal(c3.body.error.code, 'missing_blobs');
    // A forged token is refused before any storage call.
    const c4 = await api.post('/api/v1/blobs/confirm', { blobs: [{ digest, size: data.length, confirm: 'eyJuIjoiLi4vLi4vZXRjIn0' }] });
    assert.equal(c4.status, 400);
    assert.match(c4.body.error.message, /not one this server handed out/);
    // The whole, right bytes are accepted and then commit.
    const m5 = await negotiate(api, data);
    await fetch(m5.uploadUrl, { method: 'PUT', body: data, headers: m5.headers });
    const c5 = await api.post('/api/v1/blobs/confirm', { blobs: [{ digest, size: data.length, confirm: m5.confirm }] });
    assert.equal(c5.status, 200);
    assert.deepEqual(c5.body.items, [{ digest, size: data.length, created: true }]);
    assert.equal((await commit(api, data, 'trunc')).status, 201);
  });

  it('an object under the final key without a verified record is never taken as present (HEAD is not trusted)', async () => {
    const { api, prefix } = main;
    const data = randomBytes(2 * MiB);
    const digest = sha256(data);
    await raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key: finalKey(prefix, digest), Body: data.subarray(0, 1000) }));
    assert.equal((await negotiate(api, data)).confirm !== undefined, true, 'negotiation still asks for it');
    assert.equal((await commit(api, data, 'headless')).body.error.code, 'missing_blobs');
    const small = Buffer.from('tiny but planted');
    await raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key: finalKey(prefix, sha256(small)), Body: small }));
    assert.equal((await commit(api, small, 'headless2')).body.error.code, 'missing_blobs');
  });

  it('a second PUT to a used upload URL cannot replace verified bytes', async () => {
    const { api, prefix } = main;
    const data = randomBytes(2 * MiB);
    const digest = sha256(data);
    const m = await negotiate(api, data);
    await fetch(m.uploadUrl, { method: 'PUT', body: data, headers: m.headers });
    assert.equal((await api.post('/api/v1/blobs/confirm', { blobs: [{ digest, size: data.length, confirm: m.confirm }] })).status, 200);
    await fetch(m.uploadUrl, { method: 'PUT', body: randomBytes(data.length), headers: m.headers });
    assert.ok((await objectBytes(finalKey(prefix, digest))).equals(data));
    const got = await fetch(`${api.url}/api/v1/blobs/${digest}`, { headers: { authorization: `Bearer ${api.key}` } });
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(data), 'download (through the redirect) gives the verified bytes');
  });

  it('wrong bytes through the server route or a batch are refused and never reach the bucket', async () => {
    const { api, prefix } = main;
    const claimed = sha256('the real bytes');
    const put = await api.putBlob('other bytes', claimed);
    assert.equal(put.status, 422);
    assert.equal(put.body.error.code, 'digest_mismatch');
    const good = Buffer.from('good one');
    const bad = Buffer.from('bad one!');
    const header = JSON.stringify({ blobs: [{ digest: sha256(good), size: good.length }, { digest: claimed, size: bad.length }] }) + '\n';
    const batch = await api.req('POST', '/api/v1/blobs/batch', Buffer.concat([Buffer.from(header), good, bad]), { 'content-type': 'application/octet-stream' });
    assert.equal(batch.status, 422);
    assert.match(batch.body.error.message, /1 blob\(s\) of the batch do not hash/);
    const stored = await keys(prefix);
    // Small blobs of a batch go into a pack object; the record says where.
    assert.equal((await api.post('/api/v1/blobs/negotiate', { blobs: [{ digest: sha256(good), size: good.length }] })).body.missing.length, 0, 'the good blob of the batch is stored');
    const got = await fetch(`${api.url}/api/v1/blobs/${sha256(good)}`, { headers: { authorization: `Bearer ${api.key}` } });
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(good));
    assert.ok(!stored.some((k) => k.includes(claimed)), 'the bad one is not');
    assert.equal((await api.post('/api/v1/blobs/negotiate', { blobs: [{ digest: claimed, size: bad.length }] })).body.missing.length, 1);
    // A large upload through the server route (spilled to a temp file) is verified before it reaches the bucket.
    const large = randomBytes(9 * MiB);
    assert.equal((await api.putBlob(large, sha256(randomBytes(10)))).status, 422);
    assert.equal((await api.putBlob(large)).status, 201);
    assert.ok((await objectBytes(finalKey(prefix, sha256(large)))).equals(large));
  });

  it('GC deletes unreferenced blobs from the bucket and their records, and keeps referenced ones', async () => {
    const { api, prefix } = multi;
    const keep = Buffer.from('kept');
    const drop = randomBytes(2 * MiB);
    assert.equal((await api.logVersion('gc', 'kept', 'dataset', { k: keep })).status, 201);
    const m = await negotiate(api, drop);
    await fetch(m.uploadUrl, { method: 'PUT', body: drop, headers: m.headers });
    assert.equal((await api.post('/api/v1/blobs/confirm', { blobs: [{ digest: sha256(drop), size: drop.length, confirm: m.confirm }] })).status, 200);
    const gc = await api.post('/api/v1/admin/gc', { graceSeconds: 0 });
    assert.equal(gc.status, 200);
    assert.equal(gc.body.deletedBlobs, 1, 'only the unreferenced blob');
    assert.equal(gc.body.freedBytes, drop.length);
    const left = await keys(prefix);
    assert.ok(left.includes(finalKey(prefix, sha256(keep))));
    assert.ok(!left.includes(finalKey(prefix, sha256(drop))));
    // The record went with the object: negotiation asks for the blob again.
    assert.equal((await api.post('/api/v1/blobs/negotiate', { blobs: [{ digest: sha256(drop), size: drop.length }] })).body.missing.length, 1);
  });

  it("dist/server.mjs with blobs in S3 prints no AWS SDK Node-version warning, and other warnings still show", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    // This test process set the switch itself (its in-process servers): the child must find it unset.
    delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    const probe = path.join(base, 'probe-warning.cjs');
    await writeFile(probe, "setTimeout(() => process.emitWarning('probe warning', 'ProbeWarning'), 0);\n");
    const child = spawn(process.execPath, ['--require', probe, path.join(REPO, 'dist', 'server.mjs'), '--data-dir', path.join(base, `warn-${++n}`), '--port', '0', '--blobs', `s3://${s3.bucket}/warn`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 90_000);
      child.stdout.on('data', (d) => {
        stdout += d;
        if (/http:\/\/127\.0\.0\.1:\d+/.test(stdout)) {
          clearTimeout(t);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
    });
    // The store made its S3 client and talked to the bucket (bucket check, checksum probe) by now.
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    assert.match(stderr, /ProbeWarning: probe warning/);
    assert.doesNotMatch(stderr, /NodeVersionSupportWarning/);
  });

  describe('bad --blobs input: one clear error, nothing started', () => {
    const start = (blobs: string) => startServer({ dataDir: path.join(base, `bad-${++n}`), quiet: true, blobs });
    const fails = (code: string, re: RegExp) => (e: unknown) => e instanceof AmphoraError && e.code === code && re.test(e.message) && !e.message.includes('\n');

    it('a bucket that does not exist', async () => {
      await assert.rejects(start('s3://no-such-bucket'), fails('not_found', /Bucket "no-such-bucket" does not exist at http:\/\/127\.0\.0\.1:\d+; create it first/));
    });
    it('an endpoint nobody listens on', async () => {
      const port = await freePort();
      const saved = process.env.AWS_ENDPOINT_URL_S3;
      process.env.AWS_ENDPOINT_URL_S3 = `http://127.0.0.1:${port}`;
      try {
        await assert.rejects(start(`s3://${s3.bucket}`), fails('server_unreachable', /Cannot reach the S3 endpoint http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/));
      } finally {
        process.env.AWS_ENDPOINT_URL_S3 = saved;
      }
    });
    it('a malformed location', async () => {
      await assert.rejects(start('s3://'), fails('invalid_request', /use s3:\/\/BUCKET/));
      await assert.rejects(start('gs://bucket'), fails('invalid_request', /not a blob store this server knows; use s3:\/\/BUCKET\[\/PREFIX\] .* or file:DIR/));
    });
    it('dist/server.mjs: missing credentials → one line on stderr and a non-zero exit; the port was never opened', function () {
      const env: Record<string, string | undefined> = { ...process.env, HOME: base, AWS_CONFIG_FILE: path.join(base, 'none'), AWS_SHARED_CREDENTIALS_FILE: path.join(base, 'none') };
      delete env.AWS_ACCESS_KEY_ID;
      delete env.AWS_SECRET_ACCESS_KEY;
      delete env.AWS_PROFILE;
      const r = spawnSync(process.execPath, [path.join(REPO, 'dist', 'server.mjs'), '--data-dir', path.join(base, `bad-${++n}`), '--port', '0', '--blobs', `s3://${s3.bucket}`], {
        env: env as NodeJS.ProcessEnv,
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.status, 1);
      assert.equal(r.stdout, '', 'never listened');
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('amphora server:'));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /No credentials for s3:\/\/amphora-s3-test: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \(or AWS_PROFILE\)/);
    });
  });
});

/** Runs a child without blocking this process's event loop (the server under test lives in it). */
function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}


