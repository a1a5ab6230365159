/**
 * One server-sent-events subscription per connection, fanned out to the views, the reference
 * cache and anyone registered through the services. A reconnect of the stream (events may have
 * been missed) fires `onDidResync` so caches start over.
 */
import * as vscode from 'vscode';
import { subscribeEvents } from '../../client/events.js';
import type { ServerEvent } from '../../core/api.js';
import type { ConnectionManager } from './connectionManager.js';

export class EventBus implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<ServerEvent>();
  private readonly resync = new vscode.EventEmitter<void>();
  readonly onEvent = this.emitter.event;
  readonly onDidResync = this.resync.event;
  private abort?: AbortController;
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly connection: ConnectionManager,
    private readonly output: vscode.OutputChannel,
  ) {
    this.subscription = connection.onDidChangeState(() => this.restart());
  }

  private restart() {
    this.abort?.abort();
    this.abort = undefined;
    const c = this.connection.current;
    if (!c) return;
    const abort = new AbortController();
    this.abort = abort;
    let everConnected = false;
    let downSince: number | undefined;
    void subscribeEvents(c.http, (e) => this.emitter.fire(e), {
      signal: abort.signal,
      onStatus: (status, error) => {
        if (status === 'connected') {
          if (everConnected) this.resync.fire();
          everConnected = true;
          downSince = undefined;
          return;
        }
        this.output.appendLine(`event stream interrupted${error ? `: ${(error as Error).message}` : ''}`);
        downSince ??= Date.now();
        // A local server may have been restarted on another port: look it up again.
        if (Date.now() - downSince > 3_000 && !abort.signal.aborted) void this.connection.connect();
      },
    });
  }

  dispose() {
    this.abort?.abort();
    this.subscription.dispose();
    this.emitter.dispose();
    this.resync.dispose();
  }
}
