/**
 * The run webviews' only door to the extension (`acquireVsCodeApi()`), validating every message
 * in both directions with the shared schemas.
 */
import {
  parseExtensionRunMessage,
  RunViewToExtension as OutgoingSchema,
  type ExtensionToRunView,
  type RunPanelState,
  type RunViewToExtension,
} from '../../core/runViewMessages.js';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

export interface Host {
  post(message: RunViewToExtension): void;
  saveState(state: RunPanelState): void;
  onMessage(handler: (m: ExtensionToRunView) => void): void;
}

export function connectHost(): Host {
  const api = acquireVsCodeApi();
  return {
    post(message) {
      const checked = OutgoingSchema.safeParse(message);
      if (!checked.success) throw new Error(`run webview tried to send an invalid "${message.type}" message`);
      api.postMessage(checked.data);
    },
    saveState(state) {
      api.setState(state);
    },
    onMessage(handler) {
      window.addEventListener('message', (event: MessageEvent) => {
        const r = parseExtensionRunMessage(event.data);
        if (!r.ok) {
          api.postMessage({ type: 'error', message: r.error.slice(0, 4000) });
          return;
        }
        handler(r.message);
      });
    },
  };
}
