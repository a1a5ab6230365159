import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Api } from '../../src/client/api.js';
import { Artifact } from '../../src/client/artifact.js';
import type { Progress } from '../../src/client/transfer.js';
import { startHarness, type Harness } from './sdk-harness.js';

/** Progress a single large file reports before it is complete. */
function partial(events: Progress[], phase: string): Progress[] {
  return events.filter((p) => p.phase === phase && p.done === 0 && (p.bytes ?? 0) > 0 && (p.bytes ?? 0) < (p.totalBytes ?? 0));
}

describe('SDK: a single large file reports byte progress while it moves', function () {
  this.timeout(60_000);
  let h: Harness;
  const size = 24 << 20;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  it('upload, download into a new root and download into an existing root', async () => {
    await mkdir(h.work, { recursive: true });
    const file = path.join(h.work, 'big.bin');
    await writeFile(file, Buffer.alloc(size, 3));
    const up: Progress[] = [];
    const art = new Artifact('big', 'dataset');
    await art.addFile(file);
    await art.log({ client: h.client, project: 'progress', onProgress: (p) => up.push({ ...p }) });
    assert.ok(partial(up, 'upload').length > 0, `upload progress before the file is done: ${JSON.stringify(up.slice(0, 5))}`);
    assert.deepEqual(up.filter((p) => p.phase === 'upload').at(-1), { phase: 'upload', done: 1, total: 1, bytes: size, totalBytes: size });

    for (const existingRoot of [false, true]) {
      const consumer = await h.freshClient();
      const got = await new Api({ client: consumer }).artifact('progress/big:v0');
      const root = path.join(h.work, `root-${existingRoot}`);
      if (existingRoot) await mkdir(root);
      const down: Progress[] = [];
      await got.download({ root, onProgress: (p) => down.push({ ...p }) });
      assert.ok(partial(down, 'download').length > 0, `download progress before the file is done (existing root: ${existingRoot})`);
      assert.ok(down.every((p) => (p.bytes ?? 0) <= size), 'never more than the total');
      assert.deepEqual(down.at(-1), { phase: 'download', done: 1, total: 1, bytes: size, totalBytes: size });
    }
  });
});
