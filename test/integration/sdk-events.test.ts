import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Artifact, subscribeEvents } from '../../src/client/index.js';
import type { ServerEvent } from '../../src/core/api.js';
import { startHarness, type Harness } from './sdk-harness.js';
import { waitFor } from '../support/waitFor.js';

describe('SDK: server-sent events', function () {
  this.timeout(30_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.close();
  });

  it('announces new versions and alias moves to a subscriber', async () => {
    const events: ServerEvent[] = [];
    const ac = new AbortController();
    let connected!: () => void;
    const ready = new Promise<void>((r) => (connected = r));
    const done = subscribeEvents(h.client.http, (e) => events.push(e), { signal: ac.signal, onStatus: (s) => s === 'connected' && connected() });
    await ready;
    await mkdir(h.work, { recursive: true });
    const f = path.join(h.work, 'e.txt');
    await writeFile(f, 'event');
    const a = new Artifact('evented', 'dataset');
    await a.addFile(f);
    await a.log({ client: h.client, project: 'ev', aliases: ['best'] });
    await waitFor('version.created of evented', () => events.some((e) => e.type === 'version.created' && e.version.name === 'evented'), 10_000);
    ac.abort();
    await done;
    const created = events.find((e) => e.type === 'version.created');
    assert.ok(created && created.type === 'version.created' && created.version.version === 'v0', `events: ${JSON.stringify(events.map((e) => e.type))}`);
  });
});
