import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashIntoFile, WRITE_BATCH_BYTES } from '../../src/core/node/hashedWrite.js';

/** Network-sized chunks (64 KiB) of `data`, as a socket delivers them. */
async function* chunks(data: Buffer, fail?: Error): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += 65536) yield data.subarray(i, i + 65536);
  if (fail) throw fail;
}

describe('core/node: hashIntoFile (uploads on the server, downloads in the client)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'amphora-hw-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes every byte and returns their SHA-256, in writes of ~4 MiB, not one per chunk', async () => {
    const data = randomBytes(2 * WRITE_BATCH_BYTES + 12345);
    const fh = await open(join(dir, 'f'), 'w');
    let writes = 0;
    const writev = fh.writev.bind(fh);
    fh.writev = ((bufs: Buffer[]) => (writes++, writev(bufs))) as typeof fh.writev;
    const out = await hashIntoFile(chunks(data), fh);
    await fh.close();
    assert.deepEqual(out, { digest: createHash('sha256').update(data).digest('hex'), size: data.length });
    assert.ok(readFileSync(join(dir, 'f')).equals(data));
    assert.equal(writes, 3, 'two full batches and the rest');
  });

  it('hashes without writing what accept refuses, and with no file at all', async () => {
    const data = randomBytes(300_000);
    const fh = await open(join(dir, 'f'), 'w');
    const out = await hashIntoFile(chunks(data), fh, (_c, received) => received <= 131072);
    await fh.close();
    assert.equal(out.digest, createHash('sha256').update(data).digest('hex'));
    assert.equal(out.size, data.length);
    assert.equal(readFileSync(join(dir, 'f')).length, 131072);
    assert.equal((await hashIntoFile(chunks(data), undefined)).digest, out.digest);
  });

  it('rethrows what accept or the source throws, after the write in flight has settled', async () => {
    const data = randomBytes(WRITE_BATCH_BYTES + 65536);
    const fh = await open(join(dir, 'f'), 'w');
    await assert.rejects(hashIntoFile(chunks(data), fh, (_c, n) => { if (n > WRITE_BATCH_BYTES) throw new Error('too many bytes'); }), /too many bytes/);
    // The first batch was fully written before the error surfaced: closing now loses nothing in flight.
    await fh.close();
    assert.equal(readFileSync(join(dir, 'f')).length, WRITE_BATCH_BYTES);
    const fh2 = await open(join(dir, 'g'), 'w');
    await assert.rejects(hashIntoFile(chunks(data, new Error('socket reset')), fh2), /socket reset/);
    await fh2.close();
  });

  it('writes each batch to several files at once, and waits for all of them before rethrowing', async () => {
    const data = randomBytes(WRITE_BATCH_BYTES + 99_999);
    const a = await open(join(dir, 'a'), 'w');
    const b = await open(join(dir, 'b'), 'w');
    const out = await hashIntoFile(chunks(data), [a, b]);
    await a.close();
    await b.close();
    assert.equal(out.digest, createHash('sha256').update(data).digest('hex'));
    assert.ok(readFileSync(join(dir, 'a')).equals(data));
    assert.ok(readFileSync(join(dir, 'b')).equals(data));
    // One file refuses its write: the error surfaces only once the other file's write settled.
    const c = await open(join(dir, 'c'), 'w');
    const d = await open(join(dir, 'd'), 'w');
    let slowDone = false;
    const writev = d.writev.bind(d);
    d.writev = (async (bufs: Buffer[]) => {
      await new Promise((r) => setTimeout(r, 50));
      const r = await writev(bufs);
      slowDone = true;
      return r;
    }) as typeof d.writev;
    c.writev = (async () => {
      throw Object.assign(new Error('no space left'), { code: 'ENOSPC' });
    }) as typeof c.writev;
    await assert.rejects(hashIntoFile(chunks(data), [c, d]), /no space left/);
    assert.equal(slowDone, true, 'the other write finished before the error was rethrown');
    await c.close();
    await d.close();
  });
});
