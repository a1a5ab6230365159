import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { AmphoraHttp } from '../../src/client/http.js';
import { subscribeEvents } from '../../src/client/events.js';
import type { ServerEvent } from '../../src/core/api.js';

/** An SSE endpoint that sends one event per connection and hangs up, to exercise reconnects. */
describe('client: SSE subscriber reconnects', () => {
  let server: Server;
  let url: string;
  const lastIds: (string | undefined)[] = [];
  let n = 0;
  before(async () => {
    server = createServer((req, res) => {
      lastIds.push(req.headers['last-event-id'] as string | undefined);
      n++;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const ev = { type: 'alias.moved', entity: 'e', project: 'p', name: 'mnist-raw', alias: 'best', version: `v${n}`, previous: null };
      res.write(`: hello\n\nid: ${n}\ndata: ${JSON.stringify(ev)}\n\ndata: {"type":"nonsense"}\n\n`);
      setTimeout(() => res.end(), 20);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('delivers valid events, skips invalid ones, reconnects with Last-Event-ID and stops on abort', async () => {
    const http = new AmphoraHttp({ baseUrl: url, apiKey: 'k' });
    const got: ServerEvent[] = [];
    const ac = new AbortController();
    const statuses: string[] = [];
    const done = subscribeEvents(
      http,
      (e) => {
        got.push(e);
        if (got.length === 3) ac.abort();
      },
      { signal: ac.signal, minBackoffMs: 10, maxBackoffMs: 40, onStatus: (s) => statuses.push(s) },
    );
    await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error('no events within 5 s')), 5000))]);
    assert.deepEqual(got.map((e) => (e.type === 'alias.moved' ? e.version : e.type)), ['v1', 'v2', 'v3']);
    assert.deepEqual(lastIds.slice(0, 3), [undefined, '1', '2']);
    assert.ok(statuses.includes('disconnected') && statuses.includes('connected'));
    await http.close();
  });
});
