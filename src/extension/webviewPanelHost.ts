import * as vscode from 'vscode';
import type { ParseResult } from '../core/webviewMessages.js';
import type { ExtensionServices } from './services.js';
import { dispatchWebviewMessage } from './webviewDispatch.js';
import type { WebviewHtmlOptions } from './webviewHtml.js';
import { showWebviewPage } from './webviewPanel.js';

/** Both webview contracts carry this message; the host sends it when handling a message fails. */
type WebviewError = { type: 'error'; message: string };

/**
 * What every Amphora webview panel shares: the page set-up, the ready handshake (nothing is posted
 * before the page says `ready`, and VS Code discards a hidden page, which then says it again),
 * incoming messages checked against the contract before `handle` sees them, and one `dispose`
 * that releases the panel's subscriptions. Subclasses add their own subscriptions to
 * `disposables` and their clean-up to `onDispose`.
 */
export abstract class WebviewPanelHost<Out extends { type: string }, In extends { type: string }> implements vscode.Disposable {
  protected ready = false;
  protected readonly disposables: vscode.Disposable[] = [];
  private disposed = false;
  onDidDispose?: () => void;

  protected constructor(
    readonly panel: vscode.WebviewPanel,
    protected readonly services: ExtensionServices,
    page: { name: 'lineage' | 'run'; html: (o: WebviewHtmlOptions) => string; parse: (data: unknown) => ParseResult<In> },
  ) {
    const root = services.context.extensionUri;
    panel.iconPath = vscode.Uri.joinPath(root, 'media', 'amphora.svg');
    showWebviewPage(panel, root, page.name, page.html);
    this.disposables.push(
      panel.webview.onDidReceiveMessage(
        (raw) =>
          void dispatchWebviewMessage(raw, {
            tag: page.name,
            parse: page.parse,
            handle: (m) => this.handle(m),
            log: (line) => this.services.output.appendLine(line),
            reportError: (message) => this.post({ type: 'error', message }),
          }),
      ),
      panel.onDidDispose(() => this.dispose()),
      panel.onDidChangeViewState((e) => {
        if (!e.webviewPanel.visible) this.ready = false;
      }),
    );
  }

  /** A validated message from the page. */
  protected abstract handle(m: In): Promise<void>;

  /** Extra clean-up of a subclass (timers), run once by `dispose`. */
  protected onDispose(): void {}

  protected post(m: Out | WebviewError): void {
    if (!this.ready || this.disposed) return;
    void this.panel.webview.postMessage(m);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.onDispose();
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
    this.onDidDispose?.();
  }
}
