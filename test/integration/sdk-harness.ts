/** Starts a real server on a temp data dir and a client with a temp cache; counts requests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '../../src/client/client.js';
import { testBackend } from './server-helpers.js';

export interface Harness {
  url: string;
  apiKey: string;
  dataDir: string;
  cacheDir: string;
  work: string;
  client: Client;
  requests: string[];
  /** A second client with its own empty cache (a "consumer" machine). */
  freshClient(): Promise<Client>;
  close(): Promise<void>;
}

export async function startHarness(opts: { cacheDir?: string } = {}): Promise<Harness> {
  const base = await mkdtemp(path.join(tmpdir(), 'amphora-it-'));
  const dataDir = path.join(base, 'data');
  const cacheDir = opts.cacheDir ?? path.join(base, 'cache');
  const work = path.join(base, 'work');
  const { startServer } = await import('../../src/server/index.js');
  const backend = await testBackend(dataDir);
  const server = await startServer({ ...backend.options, host: '127.0.0.1', port: 0, quiet: true, logLevel: 'silent' });
  const requests: string[] = [];
  const clients: Client[] = [];
  const connect = async (cache: string) => {
    const c = await Client.connect({ baseUrl: server.url, apiKey: server.apiKey, cacheDir: cache, env: {}, onRequest: (m, p) => requests.push(`${m} ${p}`) });
    clients.push(c);
    return c;
  };
  const client = await connect(cacheDir);
  let n = 0;
  return {
    url: server.url,
    apiKey: server.apiKey,
    dataDir,
    cacheDir,
    work,
    client,
    requests,
    freshClient: () => connect(path.join(base, `cache-${++n}`)),
    async close() {
      for (const c of clients) await c.close().catch(() => {});
      await server.close();
      await backend.drop();
      await rm(base, { recursive: true, force: true });
    },
  };
}

/** Requests that download blob bytes (one blob, or a batch). */
export function blobGets(requests: string[]): number {
  return requests.filter((r) => /^GET .*\/blobs\/[0-9a-f]{64}$/.test(r) || /^POST .*\/blobs\/batch-get$/.test(r)).length;
}
/** Requests that upload blob bytes (one blob, or a batch). */
export function blobPuts(requests: string[]): number {
  return requests.filter((r) => /^PUT .*\/blobs\/[0-9a-f]{64}/.test(r) || /^POST .*\/blobs\/batch$/.test(r)).length;
}
