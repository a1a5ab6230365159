/**
 * Server-sent events client: parses `ServerEvent`s from GET /events and reconnects with
 * exponential backoff (0.5 s … 15 s) until the signal aborts.
 */
import { ServerEvent } from '../core/api.js';
import type { AmphoraHttp } from './http.js';

export interface SubscribeOptions {
  signal: AbortSignal;
  /** Connection state changes (for status bars). */
  onStatus?: (status: 'connected' | 'disconnected', error?: unknown) => void;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export async function subscribeEvents(http: AmphoraHttp, onEvent: (e: ServerEvent) => void, opts: SubscribeOptions): Promise<void> {
  const min = opts.minBackoffMs ?? 500;
  const max = opts.maxBackoffMs ?? 15_000;
  let backoff = min;
  let lastId: string | undefined;
  while (!opts.signal.aborted) {
    try {
      const res = await http.events(opts.signal, lastId);
      opts.onStatus?.('connected');
      backoff = min;
      let buffer = '';
      res.body.setEncoding('utf8');
      for await (const chunk of res.body as AsyncIterable<string>) {
        buffer += chunk;
        let sep: number;
        while ((sep = buffer.search(/\r?\n\r?\n/)) !== -1) {
          const block = buffer.slice(0, sep);
          buffer = buffer.slice(buffer[sep] === '\r' ? sep + 4 : sep + 2);
          const msg = parseBlock(block);
          if (msg.id) lastId = msg.id;
          if (!msg.data) continue;
          try {
            const parsed = ServerEvent.safeParse(JSON.parse(msg.data));
            if (parsed.success) onEvent(parsed.data);
          } catch {
            /* a malformed event is skipped; the stream goes on */
          }
        }
      }
      opts.onStatus?.('disconnected');
    } catch (e) {
      if (opts.signal.aborted) return;
      opts.onStatus?.('disconnected', e);
    }
    if (opts.signal.aborted) return;
    await sleep(backoff, opts.signal);
    backoff = Math.min(max, backoff * 2);
  }
}

/** One SSE block → its id and joined data lines (comments and other fields are ignored). */
export function parseBlock(block: string): { id?: string; event?: string; data?: string } {
  const data: string[] = [];
  let id: string | undefined;
  let event: string | undefined;
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i === -1 ? line : line.slice(0, i);
    const value = i === -1 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
    else if (field === 'event') event = value;
  }
  return { id, event, data: data.length ? data.join('\n') : undefined };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
