/**
 * Logging an unchanged folder again names its content by digest (POST …/relog) instead of sending
 * the whole manifest; when the content turns out to be new (a file removed: every remaining file
 * known to the stat cache, yet no version holds that set) the manifest is committed after the 404.
 * Real server process, real files.
 */
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Artifact } from '../../src/client/artifact.js';
import { startHarness, type Harness } from './sdk-harness.js';

describe('SDK: re-logging unchanged content by its digest', function () {
  this.timeout(60_000);
  let h: Harness;
  const calls: string[] = [];
  before(async () => {
    h = await startHarness();
    const http = h.client.http;
    for (const m of ['commitVersion', 'relogVersion'] as const) {
      const real = http[m].bind(http) as (...a: unknown[]) => Promise<unknown>;
      (http as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => {
        calls.push(m);
        return real(...a);
      };
    }
  });
  after(async () => {
    await h.close();
  });

  async function log(dir: string, aliases?: string[]) {
    const a = new Artifact('frames', 'dataset');
    await a.addDir(dir);
    calls.length = 0;
    await a.log({ client: h.client, project: 'relog', aliases });
    return a;
  }

  it('sends the digest, not the manifest, and still moves aliases; new content after a 404 is committed', async () => {
    const dir = path.join(h.work, 'frames');
    await mkdir(dir, { recursive: true });
    for (let i = 0; i < 20; i++) await writeFile(path.join(dir, `f${i}.bin`), `frame ${i}\n`);
    const first = await log(dir);
    assert.deepEqual(calls, ['commitVersion'], 'files just hashed: the manifest is committed');
    assert.equal(first.version, 'v0');

    const again = await log(dir, ['best']);
    assert.deepEqual(calls, ['relogVersion'], 'nothing hashed: named by digest, no manifest sent');
    assert.equal(again.version, 'v0');
    assert.equal(again.digest, first.digest);
    assert.deepEqual(again.aliases, ['latest', 'best']);

    await rm(path.join(dir, 'f0.bin'));
    const fewer = await log(dir);
    assert.deepEqual(calls, ['relogVersion', 'commitVersion'], 'no version holds that content: 404, then the manifest');
    assert.equal(fewer.version, 'v1');
    assert.equal(fewer.created, true);

    // Back to the first content (the rewritten file is hashed again): the first version is answered.
    await writeFile(path.join(dir, 'f0.bin'), 'frame 0\n');
    const back = await log(dir);
    assert.deepEqual(calls, ['commitVersion']);
    assert.equal(back.version, 'v0');
  });
});
