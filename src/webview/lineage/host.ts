/** The lineage webview's host, bound to the lineage contract (src/core/webviewMessages.ts). */
import { parseExtensionMessage, WebviewToExtension, type ExtensionToWebview, type LineagePanelState } from '../../core/webviewMessages.js';
import { connectWebviewHost, type Host as WebviewHost } from '../shared/host.js';

export type Host = WebviewHost<WebviewToExtension, ExtensionToWebview, LineagePanelState>;

export function connectHost(): Host {
  return connectWebviewHost('lineage webview', WebviewToExtension, parseExtensionMessage);
}
