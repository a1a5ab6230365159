import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LocalBlobStore } from '../../src/server/blobs/localBlobs.js';
import { DataDirLock } from '../../src/server/dataDirLock.js';
import { embeddedEntity } from '../../src/server/credentials.js';
import { Mutex } from '../../src/server/store/mutex.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('server storage pieces', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'amphora-unit-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('blob store: hashes while streaming, stores under sha256/ab/<hex>, refuses mismatches without leftovers', async () => {
    const store = new LocalBlobStore(dir);
    await store.init();
    const d = sha('payload');
    assert.deepEqual(await store.put(d, Readable.from([Buffer.from('pay'), Buffer.from('load')]), 7), { size: 7, created: true });
    assert.equal(readFileSync(join(dir, 'sha256', d.slice(0, 2), d), 'utf8'), 'payload');
    assert.deepEqual(await store.put(d, Readable.from([Buffer.from('payload')])), { size: 7, created: false });
    await assert.rejects(store.put(sha('x'), Readable.from([Buffer.from('y')])), /hash to/);
    await assert.rejects(store.put(d, Readable.from([Buffer.from('payload')]), 8), /8/);
    assert.deepEqual(readdirSync(join(dir, 'tmp')), [], 'temp files removed');
    await store.flush();
    const listed = [];
    for await (const b of store.list()) listed.push(b.digest);
    assert.deepEqual(listed, [d]);
    const chunks: Buffer[] = [];
    for await (const c of store.read(d, { start: 3, end: 6 })) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'load');
  });

  it('blob store: streams a large blob to disk in chunks and verifies its size', async () => {
    const store = new LocalBlobStore(dir);
    await store.init();
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const d = createHash('sha256').update(big).digest('hex');
    const chunks = Array.from({ length: Math.ceil(big.length / 65536) }, (_, i) => big.subarray(i * 65536, (i + 1) * 65536));
    await assert.rejects(store.put(d, Readable.from(chunks), big.length - 1), /announced/);
    assert.deepEqual(await store.put(d, Readable.from(chunks), big.length), { size: big.length, created: true });
    assert.equal((await store.stat(d))?.size, big.length);
    await store.flush();
    assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
  });

  it('blob store: flushes a large batch (file-system sync) and a small one (per-file fsync)', async () => {
    const store = new LocalBlobStore(dir);
    await store.init();
    for (let i = 0; i < 40; i++) await store.put(sha(`b${i}`), Readable.from([Buffer.from(`b${i}`)]));
    await store.flush();
    await store.put(sha('single'), Readable.from([Buffer.from('single')]));
    await Promise.all([store.flush(), store.flush()]);
    let n = 0;
    for await (const _ of store.list()) n++;
    assert.equal(n, 41);
  });

  it('blob store: a batch blob known absent is written once; the sole writer knows what it placed, a shared folder stats', async () => {
    const { statSync } = await import('node:fs');
    const sole = new LocalBlobStore(join(dir, 'sole'));
    await sole.init({ sole: true });
    const d = sha('batch blob');
    const bytes = Buffer.from('batch blob');
    assert.deepEqual(await sole.putBytes(d, bytes, { knownAbsent: true }), { size: bytes.length, created: true });
    const ino = statSync(join(dir, 'sole', 'sha256', d.slice(0, 2), d)).ino;
    // Two batches that both looked the blob up before either stored it.
    assert.deepEqual(await sole.putBytes(d, bytes, { knownAbsent: true }), { size: bytes.length, created: false });
    await sole.flush();
    assert.deepEqual(await sole.putBytes(d, bytes, { knownAbsent: true }), { size: bytes.length, created: false }, 'still known once synced');
    assert.equal(statSync(join(dir, 'sole', 'sha256', d.slice(0, 2), d)).ino, ino, 'never rewritten');
    await assert.rejects(sole.putBytes(d, Buffer.from('other bytes'), { knownAbsent: true }), /hash to/);
    // What this process placed is known without a stat, also after a flush (clients flush before
    // they commit, and the commit checks every blob); what it removed is not.
    const e = sha('placed by this process');
    await sole.putBytes(e, Buffer.from('placed by this process'), { knownAbsent: true });
    assert.equal((await sole.statMany([e, sha('never stored')])).get(e)?.size, 22);
    assert.equal((await sole.statMany([sha('never stored')])).size, 0);
    await sole.flush();
    const file = join(dir, 'sole', 'sha256', e.slice(0, 2), e);
    const { utimesSync } = await import('node:fs');
    utimesSync(file, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    assert.ok((await sole.statMany([e])).get(e)!.mtimeMs > Date.now() - 60_000, 'answered from memory after the flush, not from disk');
    const before = Date.now();
    await sole.touch(e);
    assert.ok((await sole.statMany([e])).get(e)!.mtimeMs >= before, 'a touch moves the remembered time too');
    await sole.remove(e);
    assert.equal((await sole.statMany([e])).size, 0, 'a removed blob is looked up on disk');
    assert.equal(statSync(file, { throwIfNoEntry: false }), undefined);
    // Replicas sharing a folder: another process may have placed it, so the disk is asked.
    const shared = new LocalBlobStore(join(dir, 'sole'));
    await shared.init();
    assert.deepEqual(await shared.putBytes(d, bytes, { knownAbsent: true }), { size: bytes.length, created: false });
    assert.equal(statSync(join(dir, 'sole', 'sha256', d.slice(0, 2), d)).ino, ino);
  });

  it('data-dir lock: a live owner blocks, a dead owner (SIGKILLed server) does not', () => {
    const lock = DataDirLock.acquire(dir);
    assert.throws(() => DataDirLock.acquire(dir), /already used by a running Amphora server/);
    lock.release();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(join(dir, 'server.lock'), JSON.stringify({ pid: Number(dead.stdout), url: 'http://127.0.0.1:1', startedAt: '' }));
    const again = DataDirLock.acquire(dir);
    again.release();
    assert.equal(existsSync(join(dir, 'server.lock')), false);
  });

  it('mutex runs tasks one at a time in arrival order, surviving failures', async () => {
    const m = new Mutex();
    const order: string[] = [];
    const task = (name: string, ms: number, fail = false) =>
      m.run(async () => {
        order.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, ms));
        order.push(`end ${name}`);
        if (fail) throw new Error(name);
      });
    await Promise.allSettled([task('a', 20), task('b', 1, true), task('c', 5)]);
    assert.deepEqual(order, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('embedded entity: AMPHORA_ENTITY, else the OS user, made into a valid name', () => {
    assert.equal(embeddedEntity({ AMPHORA_ENTITY: 'my-team' }), 'my-team');
    assert.equal(embeddedEntity({ AMPHORA_ENTITY: 'Jane Doe@corp' }), 'Jane-Doe-corp');
    assert.match(embeddedEntity({}), /^[A-Za-z0-9_.-]{1,128}$/);
  });
});
