import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Api } from '../../src/client/api.js';
import { Artifact } from '../../src/client/artifact.js';
import { flipFirstByteKeepingMtime } from '../unit/flipByte.js';
import { startHarness, type Harness } from './sdk-harness.js';

describe('SDK: the stat cache keys on ctime (a byte flipped with the mtime set back)', function () {
  this.timeout(60_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  it('put: logging the folder again makes a new version', async () => {
    const dir = path.join(h.work, 'flip');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'data.bin'), Buffer.alloc(4096, 'A'));
    const first = new Artifact('flip', 'dataset');
    await first.addDir(dir);
    await first.log({ client: h.client, project: 'ctime' });
    await flipFirstByteKeepingMtime(path.join(dir, 'data.bin'));
    const second = new Artifact('flip', 'dataset');
    await second.addDir(dir);
    await second.log({ client: h.client, project: 'ctime' });
    assert.notEqual(second.digest, first.digest);
    assert.equal(second.version, 'v1');
  });

  it('get: downloading into the same root restores the damaged file instead of calling it unchanged', async () => {
    const art = await new Api({ client: h.client }).artifact('ctime/flip:v0');
    const root = path.join(h.work, 'flip-root');
    await art.download({ root });
    const target = path.join(root, 'data.bin');
    await flipFirstByteKeepingMtime(target);
    const r = await art.download({ root });
    assert.equal(r.unchanged, 0);
    assert.deepEqual(await readFile(target), Buffer.alloc(4096, 'A'));
  });

  it('re-logging an unchanged folder still hashes nothing (the cache hard link moves ctime)', async () => {
    const dir = path.join(h.work, 'same');
    await mkdir(dir, { recursive: true });
    for (let i = 0; i < 5; i++) await writeFile(path.join(dir, `f${i}.txt`), `file ${i}\n`);
    const a = new Artifact('same', 'dataset');
    await a.addDir(dir);
    await a.log({ client: h.client, project: 'ctime' });
    const hashed = h.client.statCache.hashed;
    const b = new Artifact('same', 'dataset');
    await b.addDir(dir);
    await b.log({ client: h.client, project: 'ctime' });
    assert.equal(h.client.statCache.hashed, hashed);
    assert.equal(b.version, a.version);
  });
});
