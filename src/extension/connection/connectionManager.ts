/**
 * Owns the connection to the Amphora server.
 * - `amphora.serverUrl` empty: the local server named by the discovery file (if it answers
 *   /health), else the bundled server started with VS Code's Node.
 * - `amphora.serverUrl` set: a team server, with the API key from SecretStorage ("Sign In").
 * State changes drive the status bar, the welcome views and the event stream.
 */
import * as vscode from 'vscode';
import { Client } from '../../client/client.js';
import { AmphoraHttp } from '../../client/http.js';
import { resolveConnection } from '../../client/connection.js';
import { defaultDataDir } from '../../core/node/config.js';
import { isAmphoraError } from '../../core/errors.js';
import { startEmbeddedServer, type EmbeddedServer } from './embeddedServer.js';
import type { Viewer } from '../../core/api.js';
import { describeRoles, signInMessage } from '../logic/access.js';
import { forEditorUsers } from '../logic/editorAdvice.js';
import { notificationText } from '../logic/safeText.js';

export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

export interface Connected {
  baseUrl: string;
  /** The SDK client (HTTP pool, blob cache, default entity/project) for this connection. */
  client: Client;
  http: AmphoraHttp;
  /** How we got here: an already running local server, one we started, or a team server. */
  mode: 'local' | 'started' | 'remote';
  entity: string;
  defaultProject: string;
  /** The signed-in user and their roles (team servers); drives what the views offer. */
  viewer?: Viewer;
}

interface Endpoint {
  baseUrl: string;
  apiKey: string;
  mode: Connected['mode'];
}

const SECRET_PREFIX = 'amphora.apiKey:';

export class ConnectionManager implements vscode.Disposable {
  private stateValue: ConnectionState = 'disconnected';
  private currentValue?: Connected;
  private embedded?: EmbeddedServer;
  private connecting?: Promise<Connected | undefined>;
  private readonly changed = new vscode.EventEmitter<ConnectionState>();
  readonly onDidChangeState = this.changed.event;
  lastError?: string;
  private disposed = false;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.OutputChannel,
  ) {}

  get state(): ConnectionState {
    return this.stateValue;
  }
  get current(): Connected | undefined {
    return this.currentValue;
  }

  private set(state: ConnectionState, connected?: Connected, error?: string) {
    this.stateValue = state;
    this.currentValue = connected;
    this.lastError = error;
    void vscode.commands.executeCommand('setContext', 'amphora.connectionState', state);
    this.changed.fire(state);
  }

  /** The connection, connecting first if needed; throws with what to do when there is none. */
  async require(): Promise<Connected> {
    const c = this.currentValue ?? (await this.connect());
    if (!c) throw new Error(this.lastError ?? 'Not connected to an Amphora server; run "Amphora: Reconnect".');
    return c;
  }

  /** (Re)connects; concurrent calls share one attempt. */
  connect(): Promise<Connected | undefined> {
    if (!this.connecting) {
      this.connecting = this.doConnect().finally(() => (this.connecting = undefined));
    }
    return this.connecting;
  }

  private serverUrlSetting(): string {
    return (vscode.workspace.getConfiguration('amphora').get<string>('serverUrl') ?? '').trim().replace(/\/+$/, '');
  }

  private async doConnect(): Promise<Connected | undefined> {
    if (this.disposed) return undefined;
    const old = this.currentValue;
    this.set('connecting');
    if (old) void old.client.close().catch(() => undefined);
    try {
      const remote = this.serverUrlSetting();
      const c = remote ? await this.connectRemote(remote) : await this.connectLocal();
      const client = await Client.connect({ baseUrl: c.baseUrl, apiKey: c.apiKey, env: process.env });
      const connected: Connected = { baseUrl: c.baseUrl, mode: c.mode, client, http: client.http, entity: client.entity, defaultProject: client.defaultProject, viewer: client.viewer };
      this.output.appendLine(`connected to ${connected.baseUrl} (${connected.mode}) as ${client.viewer?.user ?? connected.entity}${client.viewer ? ` (${describeRoles(client.viewer)})` : ''}`);
      this.set('connected', connected);
      return connected;
    } catch (e) {
      const message = forEditorUsers((e as Error).message);
      this.output.appendLine(`not connected: ${message}`);
      this.set('disconnected', undefined, message);
      return undefined;
    }
  }

  private async connectLocal(): Promise<Endpoint> {
    try {
      const found = await resolveConnection({ env: process.env });
      return { ...found, mode: this.embedded ? 'started' : 'local' };
    } catch (e) {
      if (!isAmphoraError(e) || e.code !== 'server_unreachable') throw e;
    }
    const dataDir = defaultDataDir(process.env);
    this.output.appendLine(`no running local server answered; starting the bundled one for ${dataDir}`);
    await this.embedded?.stop();
    // A first start runs initdb, which can take minutes on a busy laptop: say what is happening,
    // wait while the server works (up to a generous ceiling), and let the user cancel.
    this.embedded = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Starting the bundled Amphora server…', cancellable: true },
      async (progress, token) => {
        const cancel = new AbortController();
        const sub = token.onCancellationRequested(() => cancel.abort());
        const t0 = Date.now();
        let step = 'starting';
        const report = () => progress.report({ message: `${step} (${Math.round((Date.now() - t0) / 1000)} s)` });
        const ticker = setInterval(report, 1000);
        const start = (port?: number) =>
          startEmbeddedServer({
            serverScript: this.context.asAbsolutePath('dist/server.mjs'),
            dataDir,
            port,
            log: (l) => this.output.appendLine(l),
            onProgress: (s) => ((step = s), report()),
            signal: cancel.signal,
            onExit: () => {
              this.embedded = undefined;
              if (!this.disposed && this.stateValue === 'connected' && this.currentValue?.mode === 'started') {
                this.set('disconnected', undefined, 'The bundled server stopped; run "Amphora: Reconnect" to start it again.');
              }
            },
          });
        try {
          return await start();
        } catch (e) {
          if (cancel.signal.aborted) throw e;
          // The default port may belong to another program: any free port will do (clients use the discovery file).
          this.output.appendLine(`retrying on a free port: ${(e as Error).message}`);
          step = 'retrying on a free port';
          return await start(0);
        } finally {
          clearInterval(ticker);
          sub.dispose();
        }
      },
    );
    // The discovery file the server just wrote carries the API key.
    const found = await resolveConnection({ env: { ...process.env, AMPHORA_BASE_URL: undefined, AMPHORA_API_KEY: undefined } });
    return { ...found, mode: 'started' };
  }

  private async connectRemote(url: string): Promise<Endpoint> {
    const apiKey = await this.context.secrets.get(SECRET_PREFIX + url);
    if (!apiKey) throw new Error(`No API key stored for ${url}; run "Amphora: Sign In".`);
    return { baseUrl: url, apiKey, mode: 'remote' };
  }

  /** The key stored for the team server in use (terminals the editor opens talk to the same server). */
  async remoteApiKey(): Promise<string | undefined> {
    const url = this.serverUrlSetting();
    return url ? this.context.secrets.get(SECRET_PREFIX + url) : undefined;
  }

  /** Asks for a team server's URL (when not set) and API key, checks them, stores the key. */
  async signIn(): Promise<void> {
    let url = this.serverUrlSetting();
    if (!url) {
      const typed = await vscode.window.showInputBox({
        title: 'Amphora: Sign In',
        prompt: 'URL of the team Amphora server',
        placeHolder: 'https://amphora.example.com',
        ignoreFocusOut: true,
        validateInput: (v) => (/^https?:\/\/[^\s]+$/.test(v.trim()) ? undefined : 'Enter an http:// or https:// URL'),
      });
      if (!typed) return;
      url = typed.trim().replace(/\/+$/, '');
    }
    const apiKey = await vscode.window.showInputBox({
      title: `Amphora: Sign In to ${url}`,
      prompt: 'API key (stored in VS Code secret storage)',
      password: true,
      ignoreFocusOut: true,
      validateInput: (v) => (v.trim() ? undefined : 'Enter the API key'),
    });
    if (!apiKey) return;
    const http = new AmphoraHttp({ baseUrl: url, apiKey: apiKey.trim() });
    try {
      const viewer = await http.viewer();
      await this.context.secrets.store(SECRET_PREFIX + url, apiKey.trim());
      if (this.serverUrlSetting() !== url) {
        await vscode.workspace.getConfiguration('amphora').update('serverUrl', url, vscode.ConfigurationTarget.Global);
      }
      void vscode.window.showInformationMessage(notificationText(signInMessage(url, viewer)));
    } catch (e) {
      void vscode.window.showErrorMessage(notificationText(`Sign in to ${url} failed: ${(e as Error).message}`));
      return;
    } finally {
      void http.close().catch(() => undefined);
    }
    await this.connect();
  }

  async signOut(): Promise<void> {
    const url = this.serverUrlSetting();
    if (url) await this.context.secrets.delete(SECRET_PREFIX + url);
    await vscode.workspace.getConfiguration('amphora').update('serverUrl', undefined, vscode.ConfigurationTarget.Global);
    await this.connect();
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.changed.dispose();
    await this.currentValue?.client.close().catch(() => undefined);
    await this.embedded?.stop();
  }
}
