/**
 * The version diff's "Producer runs" section against a real server: two versions logged by runs
 * with different configs and summaries, one logged directly, and both logged by one run.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Artifact } from '../../src/client/artifact.js';
import { init } from '../../src/client/run.js';
import { producerDeltaText } from '../../src/extension/compare/producerDelta.js';
import type { ExtensionServices } from '../../src/extension/services.js';
import { startHarness, type Harness } from './sdk-harness.js';

describe('version diff: producer runs’ config and summary deltas (real server)', function () {
  this.timeout(120_000);
  let h: Harness;
  let services: ExtensionServices;
  let n = 0;

  const logVersion = async (runConfig: Record<string, unknown> | null, summary: Record<string, unknown>, content: string) => {
    const dir = path.join(h.work, `v${n++}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'model.bin'), content);
    const a = new Artifact('model', 'model');
    await a.addDir(dir);
    if (!runConfig) {
      await a.log({ client: h.client, project: 'p' });
      return a;
    }
    const run = await init({ client: h.client, project: 'p', jobType: 'train', config: runConfig });
    Object.assign(run.summary, summary);
    await run.logArtifact(a);
    await run.finish();
    return a;
  };

  before(async () => {
    h = await startHarness();
    // Only what producerDeltaText uses: the connection to the server.
    services = { connection: { require: async () => ({ http: h.client.http }) } } as unknown as ExtensionServices;
  });
  after(async () => h?.close());

  it('lists the config and summary keys that differ between the two producers', async () => {
    await logVersion({ lr: 0.1, epochs: 5 }, { acc: 0.8 }, 'a');
    await logVersion({ lr: 0.01, epochs: 5 }, { acc: 0.9 }, 'b');
    const text = await producerDeltaText(services, { entity: h.client.entity, project: 'p', name: 'model', version: 'v0' }, { entity: h.client.entity, project: 'p', name: 'model', version: 'v1' });
    assert.match(text, /Producer runs/);
    assert.match(text, /config: 1 key differs\n  ~ lr: 0\.1 → 0\.01/);
    assert.match(text, /summary: 1 key differs\n  ~ acc: 0\.8 → 0\.9/);
    assert.doesNotMatch(text, /epochs/);
  });

  it('says when a version was logged directly', async () => {
    await logVersion(null, {}, 'c');
    const text = await producerDeltaText(services, { entity: h.client.entity, project: 'p', name: 'model', version: 'v1' }, { entity: h.client.entity, project: 'p', name: 'model', version: 'v2' });
    assert.match(text, /model:v2 was logged directly, not by a run/);
  });
});
