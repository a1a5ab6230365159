/**
 * The parts of undici the SDK calls (Agent and request), loaded from undici's own modules instead
 * of its index: index.js also loads fetch, WebSocket, EventSource, cookies (which pull in Node's
 * built-in copy of undici), mocks and cache stores, ~40 ms of CPU in every cold CLI process for
 * nothing the SDK uses. What index.js wires up is repeated here: the request API methods on
 * Dispatcher.prototype, and `request` on the global dispatcher.
 */
import type { Agent as AgentClass, Dispatcher } from 'undici';
import AgentImpl from 'undici/lib/dispatcher/agent.js';
import DispatcherImpl from 'undici/lib/dispatcher/dispatcher.js';
import api from 'undici/lib/api/index.js';
import globalDispatcher from 'undici/lib/global.js';

Object.assign(DispatcherImpl.prototype, api);

export const Agent = AgentImpl as typeof AgentClass;
export type Agent = AgentClass;
export type { Dispatcher };

export type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method?: Dispatcher.HttpMethod; dispatcher?: Dispatcher };

/** undici's `request(url, opts)`: one request to an absolute URL through `opts.dispatcher` or the global one. */
export function request(url: string, opts: RequestOptions = {}): Promise<Dispatcher.ResponseData> {
  const u = new URL(url);
  const { dispatcher = globalDispatcher.getGlobalDispatcher(), ...rest } = opts;
  return dispatcher.request({ ...rest, origin: u.origin, path: `${u.pathname}${u.search}`, method: opts.method ?? (opts.body ? 'PUT' : 'GET') });
}
