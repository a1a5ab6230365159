/** The run webviews' host, bound to the run view contract (src/core/runViewMessages.ts). */
import { parseExtensionRunMessage, RunViewToExtension, type ExtensionToRunView, type RunPanelState } from '../../core/runViewMessages.js';
import { connectWebviewHost, type Host as WebviewHost } from '../shared/host.js';

export type Host = WebviewHost<RunViewToExtension, ExtensionToRunView, RunPanelState>;

export function connectHost(): Host {
  return connectWebviewHost('run webview', RunViewToExtension, parseExtensionRunMessage);
}
