/** How a panel takes a message from its webview: checked against the contract, handled, failures reported to both sides. */
import type { ParseResult } from '../core/webviewMessages.js';

export interface WebviewDispatch<M extends { type: string }> {
  /** `[tag]` prefixes the output channel lines. */
  tag: string;
  parse(data: unknown): ParseResult<M>;
  handle(message: M): Promise<void>;
  log(line: string): void;
  /** Shows a failure in the webview (its `error` message). */
  reportError(message: string): void;
}

export async function dispatchWebviewMessage<M extends { type: string }>(raw: unknown, d: WebviewDispatch<M>): Promise<void> {
  const r = d.parse(raw);
  if (!r.ok) {
    d.log(`[${d.tag}] ${r.error}`);
    return;
  }
  try {
    await d.handle(r.message);
  } catch (e) {
    d.log(`[${d.tag}] ${r.message.type} failed: ${(e as Error).stack ?? e}`);
    d.reportError(`${r.message.type} failed: ${(e as Error).message}`);
  }
}
