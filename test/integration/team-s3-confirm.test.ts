import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { startS3rver, type S3rverHandle } from '../support/s3rver.js';
import { BOOTSTRAP_KEY, createUser, ok } from './team-helpers.js';
import { Api, sha256 } from './server-helpers.js';

const MiB = 1 << 20;

/**
 * Team mode with blobs in a bucket (s3rver): presigned uploads go to storage, so the server learns
 * who uploaded a blob only at POST /blobs/confirm. That is where ownership is recorded, and where
 * a caller who could not read a stored blob must prove they hold its bytes.
 */
describe('team mode: presigned S3 uploads and blob ownership', function () {
  this.timeout(180_000);
  let s3: S3rverHandle;
  let restoreEnv: () => void;
  let base: string;
  let server: RunningServer;
  let admin: Api;
  let alice: Api;
  let bob: Api;

  before(async () => {
    s3 = await startS3rver('amphora-team-s3');
    restoreEnv = s3.applyEnv();
    base = mkdtempSync(path.join(tmpdir(), 'amphora-team-s3-'));
    server = await startServer({ dataDir: path.join(base, 'data'), quiet: true, mode: 'team', bootstrapKey: BOOTSTRAP_KEY, blobs: `s3://${s3.bucket}/team` });
    admin = new Api(server.url, BOOTSTRAP_KEY);
    alice = await createUser(admin, 'alice');
    bob = await createUser(admin, 'bob');
  });
  after(async () => {
    await server?.close().catch(() => undefined);
    restoreEnv?.();
    await s3?.stop();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  async function negotiate(api: Api, data: Buffer) {
    const body = await ok(api.post('/api/v1/blobs/negotiate', { blobs: [{ digest: sha256(data), size: data.length }] }), 'negotiate');
    return body.missing as { digest: string; uploadUrl: string; headers: Record<string, string>; confirm?: string }[];
  }

  async function download(api: Api, digest: string): Promise<{ status: number; bytes?: Buffer }> {
    const r = await fetch(`${api.url}/api/v1/blobs/${digest}`, { headers: { authorization: `Bearer ${api.key}` }, redirect: 'manual' });
    if (r.status !== 307) return { status: r.status, bytes: r.ok ? Buffer.from(await r.arrayBuffer()) : undefined };
    const direct = await fetch(r.headers.get('location')!);
    return { status: 307, bytes: Buffer.from(await direct.arrayBuffer()) };
  }

  it('a user commits the blobs they uploaded straight to storage (confirm records them as theirs)', async () => {
    const data = randomBytes(2 * MiB);
    const [m] = await negotiate(alice, data);
    assert.ok(m?.confirm, 'a presigned upload with a confirm token');
    assert.equal((await fetch(m.uploadUrl, { method: 'PUT', body: data, headers: m.headers })).status, 200);
    await ok(alice.post('/api/v1/blobs/confirm', { blobs: [{ digest: m.digest, size: data.length, confirm: m.confirm }] }), 'confirm');
    await ok(alice.post('/api/v1/projects/alice/p/artifacts/big/versions', { type: 'dataset', manifest: { 'f.bin': { digest: m.digest, size: data.length } } }), 'commit');
    const got = await download(alice, m.digest);
    assert.equal(got.status, 307);
    assert.ok(got.bytes!.equals(data));
  });

  it("a stored blob another user cannot read stays theirs until they upload its bytes; the stored bytes never change", async () => {
    const data = randomBytes(2 * MiB);
    const digest = sha256(data);
    await ok(alice.logVersion('secret', 'model', 'model', { 'w.bin': data }, { entity: 'alice' }), 'alice logs');

    // Knowing the digest: bob is told to upload it (it is not his to read), and reading is refused.
    const [m] = await negotiate(bob, data);
    assert.equal(m?.digest, digest, 'present but unreadable counts as missing');
    assert.ok(m.confirm);
    assert.equal((await download(bob, digest)).status, 404);

    // Confirming without uploading must not make it his.
    const skip = await bob.post('/api/v1/blobs/confirm', { blobs: [{ digest, size: data.length, confirm: m.confirm }] });
    assert.equal(skip.status, 409, JSON.stringify(skip.body));
    assert.equal(skip.body.error.code, 'missing_blobs');
    assert.equal((await download(bob, digest)).status, 404);
    const commit = await bob.post('/api/v1/projects/bob/p/artifacts/stolen/versions', { type: 'model', manifest: { 'w.bin': { digest, size: data.length } } });
    assert.equal(commit.body.error?.code, 'missing_blobs', JSON.stringify(commit.body));

    // Other bytes under that digest are refused, and alice's bytes are untouched.
    const [m2] = await negotiate(bob, data);
    await fetch(m2.uploadUrl, { method: 'PUT', body: randomBytes(data.length), headers: m2.headers });
    assert.equal((await bob.post('/api/v1/blobs/confirm', { blobs: [{ digest, size: data.length, confirm: m2.confirm }] })).status, 422);
    assert.ok((await download(alice, digest)).bytes!.equals(data), "alice's blob is unchanged");

    // Holding the bytes is proof enough: upload, confirm (nothing new stored), then commit and read.
    const [m3] = await negotiate(bob, data);
    await fetch(m3.uploadUrl, { method: 'PUT', body: data, headers: m3.headers });
    const c3 = await ok(bob.post('/api/v1/blobs/confirm', { blobs: [{ digest, size: data.length, confirm: m3.confirm }] }), 'confirm with the bytes');
    assert.equal(c3.items[0].created, false, 'the stored blob is kept, not replaced');
    await ok(bob.post('/api/v1/projects/bob/p/artifacts/mine/versions', { type: 'model', manifest: { 'w.bin': { digest, size: data.length } } }), 'bob commits');
    assert.ok((await download(bob, digest)).bytes!.equals(data));
  });
});
