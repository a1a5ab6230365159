/**
 * The lineage webview host: one panel showing the run/version graph around a focus node.
 * Talks to the webview only through the typed, validated messages of core/webviewMessages.ts,
 * sends nothing before the webview's `ready`, re-queries the server for expansions and for
 * live updates from the event stream, and is restored after a reload by the serializer.
 */
import * as vscode from 'vscode';
import { eventProject, type LineageGraph, type LineageNode } from '../../core/api.js';
import { parseNodeId } from '../../core/lineage.js';
import {
  LineagePanelState,
  parseWebviewMessage,
  type ExtensionToWebview,
  type WebviewToExtension,
} from '../../core/webviewMessages.js';
import { amphoraUri } from '../fs/amphoraFileSystem.js';
import type { ExtensionServices } from '../services.js';
import { lineageHtml } from './lineageHtml.js';
import { WebviewPanelHost } from '../webviewPanelHost.js';

export const LINEAGE_VIEW_TYPE = 'amphora.lineage';
export const DEFAULT_DEPTH = 2;
/** Live updates arrive in bursts (a pipeline logs several versions at once): re-query once. */
const LIVE_DEBOUNCE_MS = 300;

export class LineagePanel extends WebviewPanelHost<ExtensionToWebview, WebviewToExtension> {
  private readonly nodes = new Map<string, LineageNode>();
  private liveTimer: NodeJS.Timeout | undefined;

  constructor(
    panel: vscode.WebviewPanel,
    services: ExtensionServices,
    private state: LineagePanelState,
  ) {
    // The title before any node is known (what updateTitle gives), so the page is created with it.
    panel.title = `Lineage: ${state.focus ?? state.project}`;
    super(panel, services, { name: 'lineage', html: lineageHtml, parse: parseWebviewMessage });
    this.disposables.push(
      services.events.onEvent((e) => {
        if (e.type === 'version.deleted' && e.version.entity === this.state.entity && e.version.project === this.state.project) {
          this.post({ type: 'removeNodes', nodeIds: [`artifact:${e.version.id}`] });
          return;
        }
        if (e.type === 'run.logged') return; // new metrics change no edge
        const scope = eventProject(e);
        if (scope.entity === this.state.entity && scope.project === this.state.project) this.scheduleLiveUpdate();
      }),
      services.events.onDidResync(() => this.scheduleLiveUpdate()),
    );
  }

  get currentState(): LineagePanelState {
    return this.state;
  }

  /** Shows another focus in this panel. */
  show(state: LineagePanelState): void {
    this.state = state;
    this.updateTitle();
    this.panel.reveal(undefined, false);
    if (this.ready) void this.load('replace');
  }

  private updateTitle(): void {
    const focus = this.state.focus ? (this.nodes.get(this.state.focus)?.label ?? this.state.focus) : `${this.state.project}`;
    this.panel.title = `Lineage: ${focus}`;
  }

  private remember(g: LineageGraph): void {
    for (const n of g.nodes) this.nodes.set(n.id, n);
  }

  private async query(node: string | null, depth: number): Promise<LineageGraph> {
    const c = await this.services.connection.require();
    return c.http.lineage(this.state.entity, this.state.project, { node: node ?? undefined, depth, level: 'instance' });
  }

  private async load(mode: 'replace' | 'merge'): Promise<void> {
    try {
      const graph = await this.query(this.state.focus, this.state.depth);
      this.remember(graph);
      this.updateTitle();
      this.post({ type: 'graph', mode, state: this.state, graph });
    } catch (e) {
      this.post({ type: 'error', message: `Could not load the lineage of ${this.state.focus ?? this.state.project}: ${(e as Error).message}` });
    }
  }

  private scheduleLiveUpdate(): void {
    if (!this.ready) return;
    clearTimeout(this.liveTimer);
    this.liveTimer = setTimeout(() => void this.load('merge'), LIVE_DEBOUNCE_MS);
  }

  protected async handle(m: WebviewToExtension): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        await this.load('replace');
        return;
      case 'refresh':
        await this.load('replace');
        return;
      case 'levelChanged':
        this.state = { ...this.state, level: m.level };
        return;
      case 'expand': {
        const graph = await this.query(m.nodeId, m.depth);
        this.remember(graph);
        this.post({ type: 'graph', mode: 'merge', state: this.state, graph });
        this.post({ type: 'expanded', nodeId: m.nodeId, truncated: graph.truncated });
        return;
      }
      case 'reveal':
        await this.reveal(m.nodeId);
        return;
      case 'open':
        await this.open(m.nodeId);
        return;
      case 'producerCode': {
        const v = this.nodes.get(m.nodeId)?.version;
        if (v) await vscode.commands.executeCommand('amphora.openProducerCode', { entity: v.entity, project: v.project, name: v.name, version: v.version });
        return;
      }
      case 'error':
        this.services.output.appendLine(`[lineage webview] ${m.message}`);
        return;
    }
  }

  private async reveal(nodeId: string): Promise<void> {
    const node = this.nodes.get(nodeId);
    if (node?.version) {
      const v = node.version;
      await this.services.artifactsTree.revealVersion({ entity: v.entity, project: v.project, name: v.name, version: v.version }, { select: true, focus: false });
    } else if (node?.run) {
      await this.services.runsTree.revealRun(node.run.entity, node.run.project, node.run.id, { select: true, focus: false });
    } else if (parseNodeId(nodeId)?.kind === 'run') {
      await this.services.runsTree.revealRun(this.state.entity, this.state.project, parseNodeId(nodeId)!.key, { select: true, focus: false });
    }
  }

  /** A version opens its files (pick one; it opens read-only from the server), a run its run view. */
  private async open(nodeId: string): Promise<void> {
    const node = this.nodes.get(nodeId);
    if (node?.version) {
      const v = node.version;
      // The tree follows along, but opening the file must not wait for it.
      void this.services.artifactsTree.revealVersion({ entity: v.entity, project: v.project, name: v.name, version: v.version }, { select: true, expand: true }).catch(() => undefined);
      const c = await this.services.connection.require();
      const m = await c.http.manifest(v.entity, v.project, v.name, v.version);
      const paths = Object.keys(m.entries).sort();
      const path = paths.length === 1 ? paths[0] : (await vscode.window.showQuickPick(paths, { title: `Open a file of ${v.name}:${v.version}`, placeHolder: `${paths.length} files` }));
      if (path) await vscode.commands.executeCommand('vscode.open', amphoraUri({ entity: v.entity, project: v.project, name: v.name, selector: v.version, path }), { preview: true });
      return;
    }
    // A run node (also one merged in without its run record) opens the run view.
    const run = node?.run ? { entity: node.run.entity, project: node.run.project, runId: node.run.id } : parseNodeId(nodeId)?.kind === 'run' ? { entity: this.state.entity, project: this.state.project, runId: parseNodeId(nodeId)!.key } : undefined;
    if (!run) return;
    void this.services.runsTree.revealRun(run.entity, run.project, run.runId, { select: true, focus: false }).catch(() => undefined);
    await vscode.commands.executeCommand('amphora.openRun', run);
  }

  protected override onDispose(): void {
    clearTimeout(this.liveTimer);
  }
}
