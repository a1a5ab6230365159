/**
 * A webview's only door to the extension: `acquireVsCodeApi()` for posting and persisted state,
 * `message` events for receiving. Every message crossing is validated with the shared schemas in
 * both directions; the lineage and run webviews each bind it to their own contract.
 */
import type { z } from 'zod';
import type { ParseResult } from '../../core/webviewMessages.js';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

export interface Host<Out, In, State> {
  post(message: Out): void;
  saveState(state: State): void;
  onMessage(handler: (m: In) => void): void;
}

export function connectWebviewHost<Out extends { type: string }, In, State>(
  name: string,
  outgoing: z.ZodType<Out>,
  parseIncoming: (data: unknown) => ParseResult<In>,
): Host<Out, In, State> {
  const api = acquireVsCodeApi();
  return {
    post(message) {
      // Catch our own bugs here rather than in the extension.
      const checked = outgoing.safeParse(message);
      if (!checked.success) throw new Error(`${name} tried to send an invalid "${message.type}" message`);
      api.postMessage(checked.data);
    },
    saveState(state) {
      api.setState(state);
    },
    onMessage(handler) {
      window.addEventListener('message', (event: MessageEvent) => {
        const r = parseIncoming(event.data);
        if (!r.ok) {
          api.postMessage({ type: 'error', message: r.error.slice(0, 4000) });
          return;
        }
        handler(r.message);
      });
    },
  };
}
