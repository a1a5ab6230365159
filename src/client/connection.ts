/**
 * Finds the server a client should talk to: AMPHORA_BASE_URL + AMPHORA_API_KEY win; otherwise the
 * discovery file the embedded server writes into the default data dir. The result is checked with
 * a health request so a stale discovery file gives a clear "start a server" error.
 */
import { readFile } from 'node:fs/promises';
import { request } from './undici.js';
import { DEFAULT_PORT, Discovery, defaultDataDir, discoveryPath } from '../core/node/config.js';
import { AmphoraError } from '../core/errors.js';
import { unreachableError } from './http.js';

export interface Connection {
  baseUrl: string;
  apiKey: string;
}

type Env = Record<string, string | undefined>;

export async function resolveConnection(opts: { baseUrl?: string; apiKey?: string; env?: Env; verify?: boolean } = {}): Promise<Connection> {
  const env = opts.env ?? process.env;
  let baseUrl = opts.baseUrl ?? env.AMPHORA_BASE_URL;
  let apiKey = opts.apiKey ?? env.AMPHORA_API_KEY;
  if (baseUrl) requireScheme(baseUrl);
  if (!baseUrl || !apiKey) {
    const file = discoveryPath(defaultDataDir(env));
    const found = await readDiscovery(file);
    if (!found) {
      if (baseUrl && !apiKey) {
        throw new AmphoraError('unauthorized', `AMPHORA_BASE_URL is set to ${baseUrl} but AMPHORA_API_KEY is not; set AMPHORA_API_KEY to the server's API key.`);
      }
      throw new AmphoraError(
        'server_unreachable',
        `No Amphora server found: AMPHORA_BASE_URL is not set and there is no discovery file at ${file}. Start one with \`amphora serve\`, or set AMPHORA_BASE_URL and AMPHORA_API_KEY.`,
      );
    }
    // The discovery file's key only belongs to the discovery file's server.
    if (!baseUrl || baseUrl.replace(/\/+$/, '') === found.url.replace(/\/+$/, '')) {
      baseUrl = found.url;
      apiKey = apiKey ?? found.apiKey;
    }
    if (!apiKey) {
      throw new AmphoraError('unauthorized', `AMPHORA_BASE_URL is set to ${baseUrl} but AMPHORA_API_KEY is not; set AMPHORA_API_KEY to that server's API key.`);
    }
  }
  baseUrl = baseUrl.replace(/\/+$/, '');
  if (opts.verify !== false) await checkHealth(baseUrl);
  return { baseUrl, apiKey };
}

/** A URL without http(s):// would otherwise fail later with an obscure "invalid URL". */
export function requireScheme(baseUrl: string): void {
  if (/^https?:\/\//i.test(baseUrl)) return;
  const host = baseUrl.split('/')[0];
  const example = `http://${host.includes(':') ? host : `${host || '127.0.0.1'}:${DEFAULT_PORT}`}`;
  throw new AmphoraError('invalid_request', `AMPHORA_BASE_URL is "${baseUrl}": it must start with http:// or https:// (for example ${example}).`);
}

async function readDiscovery(file: string): Promise<Discovery | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = Discovery.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs a connection's first request alongside the health check instead of after it: one round
 * trip less (Client.connect does it for servers the caller named). The health check's clear
 * "start a server" error wins and cancels the request, which a hung server would otherwise hold
 * for its long timeout; otherwise the request's own result or error stands.
 */
export async function whileCheckingHealth<T>(baseUrl: string, first: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const pending = first(abort.signal);
  pending.catch(() => undefined); // awaited below unless the health check fails first
  try {
    await checkHealth(baseUrl);
  } catch (e) {
    abort.abort();
    throw e;
  }
  return pending;
}

async function checkHealth(baseUrl: string): Promise<void> {
  try {
    const res = await request(`${baseUrl}/api/v1/health`, { method: 'GET', headersTimeout: 5_000, bodyTimeout: 5_000 });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`health check answered HTTP ${res.statusCode}`);
  } catch (e) {
    throw unreachableError(baseUrl, e);
  }
}
