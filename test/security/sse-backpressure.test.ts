/** Event stream under stalled subscribers: small events, bounded queues, server memory bounded. */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { onListening } from '../support/serverLines.js';
import { Writable } from 'node:stream';
import { SseStream, SSE_MAX_QUEUED_BYTES } from '../../src/server/sseStream.js';
import { Api, tempDir } from '../integration/server-helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Math.round(Number(m![1]) / 1024);
}

/** A subscriber that connects, sends its request, and never reads a byte. */
function stalledSubscriber(url: string, key: string): Promise<Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => {
      s.write(`GET /api/v1/events HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer ${key}\r\nAccept: text/event-stream\r\n\r\n`);
    });
    // Subscribed once the server has sent the stream's headers; from then on it never reads again.
    let head = '';
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      s.off('data', onData);
      s.pause();
      resolve(s);
    };
    s.on('data', onData);
    s.on('error', () => undefined); // dropped by the server: expected
    s.once('error', reject);
  });
}

describe('security: event stream backpressure', function () {
  this.timeout(240_000);

  it('drops a subscriber whose queue passes the bound, once, and sends nothing after (real never-draining stream)', () => {
    const never = new Writable({ highWaterMark: 1024, write: () => undefined }); // never calls back: a peer that never reads
    let drops = 0;
    const stream = new SseStream(never, () => drops++);
    const frame = `data: ${JSON.stringify({ pad: 'x'.repeat(1000) })}\n\n`;
    let sent = 0;
    while (stream.send(frame)) sent++;
    assert.equal(drops, 1);
    assert.ok(never.destroyed, 'the connection is closed');
    assert.ok(sent * frame.length <= SSE_MAX_QUEUED_BYTES && (sent + 1) * frame.length > SSE_MAX_QUEUED_BYTES - frame.length, `dropped after ${sent} frames`);
    assert.equal(stream.send(frame), false);
    assert.equal(drops, 1);
  });

  describe('a real server process with 50 subscribers that never read', () => {
    const dir = tempDir('amphora-sse-');
    let child: ChildProcess;
    let api: Api;
    let url: string;
    let entity: string;
    const sockets: Socket[] = [];

    before(async () => {
      const b = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(b.status, 0, b.stderr);
      child = spawn(process.execPath, [join(ROOT, 'dist', 'server.mjs'), '--data-dir', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      url = await new Promise<string>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
        onListening(child.stdout!, (line) => resolve(JSON.parse(line).url));
      });
      api = new Api(url, JSON.parse(readFileSync(join(dir, 'server.json'), 'utf8')).apiKey);
      entity = await api.entity();
      assert.equal((await api.logVersion('sse', 'big', 'dataset', { 'a.txt': 'a' })).status, 201);
    });
    after(() => {
      for (const s of sockets) s.destroy();
      child?.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    it('keeps events small and server memory bounded through 2 MiB metadata updates', async () => {
      const big = (i: number) => ({ blob: `${i}`.repeat(2 * 1024 * 1024) });
      const patch = async (i: number) => {
        const r = await api.patch(`/api/v1/projects/${entity}/sse/artifacts/big/versions/v0`, { metadata: big(i) });
        assert.equal(r.status, 200);
      };
      await patch(0); // the database's own memory for large values is part of the baseline
      await patch(1);
      // One subscriber that reads, to see what an event carries.
      const ac = new AbortController();
      const res = await fetch(`${url}/api/v1/events`, { headers: { authorization: `Bearer ${api.key}` }, signal: ac.signal });
      const reader = res.body!.getReader();
      for (let i = 0; i < 50; i++) sockets.push(await stalledSubscriber(url, api.key));
      const before = rssMiB(child.pid!);
      for (let i = 2; i < 6; i++) await patch(i);
      // The reading subscriber has all four updates once the server has queued them to everyone.
      let text = '';
      const decoder = new TextDecoder();
      while ((text.match(/"version\.updated"/g) ?? []).length < 4) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value);
      }
      const after = rssMiB(child.pid!);
      ac.abort();
      const frames = text.split('\n\n').filter((f) => f.startsWith('data: '));
      console.log(`      server RSS with 50 stalled subscribers: ${before} MiB before 4 × 2 MiB metadata updates, ${after} MiB after (+${after - before} MiB); largest event ${Math.max(...frames.map((f) => f.length))} bytes`);
      assert.ok(after - before < 150, `server RSS grew by ${after - before} MiB (${before} → ${after})`);
      const updates = frames.filter((f) => f.includes('"version.updated"'));
      assert.equal(updates.length, 4);
      for (const f of frames) assert.ok(f.length < 16 * 1024, `an event of ${f.length} bytes`);
      assert.ok(!text.includes('"metadata"'), 'events do not carry metadata');
    });
  });
});
