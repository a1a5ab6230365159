/**
 * The webview's only door to the extension: `acquireVsCodeApi()` for posting and persisted
 * state, `message` events for receiving. Every message crossing is validated with the shared
 * schemas in both directions.
 */
import {
  type ExtensionToWebview,
  type LineagePanelState,
  type WebviewToExtension,
  WebviewToExtension as OutgoingSchema,
  parseExtensionMessage,
} from '../../core/webviewMessages.js';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

export interface Host {
  post(message: WebviewToExtension): void;
  saveState(state: LineagePanelState): void;
  onMessage(handler: (m: ExtensionToWebview) => void): void;
}

export function connectHost(): Host {
  const api = acquireVsCodeApi();
  return {
    post(message) {
      // Catch our own bugs here rather than in the extension.
      const checked = OutgoingSchema.safeParse(message);
      if (!checked.success) throw new Error(`lineage webview tried to send an invalid "${message.type}" message`);
      api.postMessage(checked.data);
    },
    saveState(state) {
      api.setState(state);
    },
    onMessage(handler) {
      window.addEventListener('message', (event: MessageEvent) => {
        const r = parseExtensionMessage(event.data);
        if (!r.ok) {
          api.postMessage({ type: 'error', message: r.error.slice(0, 4000) });
          return;
        }
        handler(r.message);
      });
    },
  };
}
