/**
 * Host of the run webviews (run view, run comparison, experiments table). Sends the page's data
 * after the webview's `ready`, answers metric queries (overview, zoomed detail), images and
 * actions, and keeps live runs live: `run.logged` appends new points, `run.updated` refreshes
 * state and summary. Every message from the webview is validated first.
 */
import * as vscode from 'vscode';
import type { Run, RunMetrics } from '../../core/api.js';
import { galleryImages, imageMime, loggedKeyOf } from '../../core/runs/runMedia.js';
import { loggedTables } from '../../core/runs/tableFile.js';
import { readTableText } from './tableText.js';
import { ExperimentsPrefs, parseRunViewMessage, type ExtensionToRunView, type RunPanelState, type RunViewToExtension } from '../../core/runViewMessages.js';
import type { ExtensionServices } from '../services.js';
import { runFileUri } from '../fs/runFiles.js';
import { runHtml } from './runHtml.js';
import { WebviewPanelHost } from '../webviewPanelHost.js';
import { paginate } from '../../core/paginate.js';

/** Points per series for the overview; the webview draws at most a few per pixel anyway. */
const OVERVIEW_POINTS = 1_500;
/** Points per series for a zoomed range: full detail for any range a screen can resolve. */
const ZOOM_POINTS = 20_000;
/** Images travel as data: URLs; past this size the gallery says so instead. */
const MAX_IMAGE_BYTES = 8 * 1024 * 1024;
const LIVE_DEBOUNCE_MS = 250;
const MAX_EXPERIMENT_RUNS = 5_000;

export function panelTitle(s: RunPanelState, names: string[] = []): string {
  if (s.kind === 'run') return `Run: ${names[0] ?? s.runId}`;
  if (s.kind === 'compare') return `Compare ${s.runIds.length} runs`;
  return `Experiments: ${s.project}`;
}

/** Workspace-state key of a project's experiments table choices. */
export function experimentsPrefsKey(entity: string, project: string): string {
  return `amphora.experiments.prefs:${entity}/${project}`;
}

export class RunsPanel extends WebviewPanelHost<ExtensionToRunView, RunViewToExtension> {
  private x: 'step' | 'time' = 'step';
  private zoom: { min: number; max: number } | null = null;
  /** Highest step each run's charts show (live appends ask for what comes after). */
  private readonly lastStep = new Map<string, number>();
  private readonly files = new Map<string, Map<string, { digest: string; size: number }>>();
  private readonly pendingLive = new Set<string>();
  private liveTimer: NodeJS.Timeout | undefined;

  constructor(panel: vscode.WebviewPanel, services: ExtensionServices, private state: RunPanelState) {
    panel.title = panelTitle(state);
    super(panel, services, { name: 'run', html: runHtml, parse: parseRunViewMessage });
    this.disposables.push(
      services.events.onEvent((e) => {
        if (e.type === 'run.logged' && e.entity === this.state.entity && e.project === this.state.project && this.runIds().includes(e.runId)) this.scheduleLive(e.runId);
        if (e.type === 'run.updated' && e.run.entity === this.state.entity && e.run.project === this.state.project) {
          if (this.state.kind === 'experiments') this.scheduleLive('*');
          else if (this.runIds().includes(e.run.id)) void this.sendRunUpdate(e.run.id);
        }
      }),
      services.events.onDidResync(() => {
        if (this.ready) void this.load();
      }),
    );
  }

  get currentState(): RunPanelState {
    return this.state;
  }

  show(state: RunPanelState): void {
    this.state = state;
    this.zoom = null;
    this.x = 'step';
    this.panel.title = panelTitle(state);
    this.panel.reveal(undefined, false);
    if (this.ready) void this.load();
  }

  private runIds(): string[] {
    return this.state.kind === 'run' ? [this.state.runId] : this.state.kind === 'compare' ? this.state.runIds : [];
  }

  private async http() {
    return (await this.services.connection.require()).http;
  }

  private async metricsOf(runId: string, q: { x: 'step' | 'time'; min?: number; max?: number; points: number }): Promise<RunMetrics> {
    const http = await this.http();
    return http.runMetrics(this.state.entity, this.state.project, runId, q);
  }

  private remember(runId: string, m: RunMetrics): void {
    let last = this.lastStep.get(runId) ?? -1;
    for (const s of m.series) if (s.step.length) last = Math.max(last, s.step[s.step.length - 1]);
    for (const k of m.keys) last = Math.max(last, k.lastStep);
    this.lastStep.set(runId, last);
  }

  private async load(): Promise<void> {
    const s = this.state;
    try {
      const http = await this.http();
      if (s.kind === 'experiments') {
        // One more than shown tells whether the table is cut.
        const runs = await paginate((q) => http.listRuns(s.entity, s.project, q), { max: MAX_EXPERIMENT_RUNS + 1 });
        this.post({ type: 'experiments', state: s, runs: runs.slice(0, MAX_EXPERIMENT_RUNS), truncated: runs.length > MAX_EXPERIMENT_RUNS, prefs: this.savedPrefs(s.entity, s.project) });
        return;
      }
      this.x = 'step';
      this.zoom = null;
      if (s.kind === 'run') {
        const [run, inputs, outputs, files, metrics] = await Promise.all([
          http.getRun(s.entity, s.project, s.runId),
          http.runInputs(s.entity, s.project, s.runId),
          http.runOutputs(s.entity, s.project, s.runId),
          http.runFiles(s.entity, s.project, s.runId),
          this.metricsOf(s.runId, { x: 'step', points: OVERVIEW_POINTS }),
        ]);
        this.panel.title = panelTitle(s, [run.name]);
        this.files.set(run.id, new Map(files.items.map((f) => [f.path, f])));
        const gallery = galleryImages(files.items, metrics.keys);
        this.post({ type: 'run', state: s, run, inputs: inputs.items, outputs: outputs.items, files: files.items, images: gallery.images, imagesOmitted: gallery.omitted, tables: loggedTables(files.items, loggedKeyOf(metrics.keys)) });
        this.remember(run.id, metrics);
        this.post({ type: 'metrics', mode: 'replace', x: 'step', range: null, runs: [{ runId: run.id, metrics }] });
        return;
      }
      const runs = await Promise.all(s.runIds.map((id) => http.getRun(s.entity, s.project, id)));
      this.post({ type: 'compare', state: s, runs });
      const metrics = await Promise.all(s.runIds.map((id) => this.metricsOf(id, { x: 'step', points: OVERVIEW_POINTS })));
      metrics.forEach((m, i) => this.remember(s.runIds[i], m));
      this.post({ type: 'metrics', mode: 'replace', x: 'step', range: null, runs: metrics.map((m, i) => ({ runId: s.runIds[i], metrics: m })) });
    } catch (e) {
      const what = s.kind === 'run' ? `run ${s.runId}` : s.kind === 'compare' ? `runs ${s.runIds.join(', ')}` : `the runs of ${s.project}`;
      this.post({ type: 'error', message: `Could not load ${what} from the Amphora server: ${(e as Error).message}` });
    }
  }

  /** The saved choices, checked: state written by another version of the extension may not fit. */
  private savedPrefs(entity: string, project: string): ExperimentsPrefs | null {
    const raw = this.services.context.workspaceState.get<unknown>(experimentsPrefsKey(entity, project));
    if (raw === undefined) return null;
    const p = ExperimentsPrefs.safeParse(raw);
    if (!p.success) this.services.output.appendLine(`[runs] ignored unreadable experiments table choices for ${entity}/${project}: ${p.error.issues[0]?.message}`);
    return p.success ? p.data : null;
  }

  private scheduleLive(runId: string): void {
    if (!this.ready) return;
    this.pendingLive.add(runId);
    this.liveTimer ??= setTimeout(() => void this.flushLive(), LIVE_DEBOUNCE_MS);
  }

  private async flushLive(): Promise<void> {
    this.liveTimer = undefined;
    const ids = [...this.pendingLive];
    this.pendingLive.clear();
    if (this.state.kind === 'experiments') return this.load();
    try {
      if (this.x === 'time' || this.zoom) {
        // Appending only works along steps on the overview; otherwise query the view again.
        await this.queryMetrics(this.x, this.zoom);
        return;
      }
      const runs = await Promise.all(
        ids.map(async (runId) => {
          const after = this.lastStep.get(runId) ?? -1;
          const m = await this.metricsOf(runId, { x: 'step', min: after + 1, points: ZOOM_POINTS });
          this.remember(runId, m);
          return { runId, metrics: m };
        }),
      );
      this.post({ type: 'metrics', mode: 'append', x: 'step', range: null, runs });
    } catch (e) {
      this.services.output.appendLine(`[runs] live update failed: ${(e as Error).message}`);
    }
  }

  private async sendRunUpdate(runId: string): Promise<void> {
    try {
      const run = await (await this.http()).getRun(this.state.entity, this.state.project, runId);
      this.post({ type: 'runUpdated', run });
    } catch (e) {
      this.services.output.appendLine(`[runs] could not refresh run ${runId}: ${(e as Error).message}`);
    }
  }

  private async queryMetrics(x: 'step' | 'time', range: { min: number; max: number } | null): Promise<void> {
    this.x = x;
    this.zoom = range;
    const ids = this.runIds();
    const q = range ? { x, min: range.min, max: range.max, points: ZOOM_POINTS } : { x, points: OVERVIEW_POINTS };
    const metrics = await Promise.all(ids.map((id) => this.metricsOf(id, q)));
    if (!range) metrics.forEach((m, i) => this.remember(ids[i], m));
    this.post({ type: 'metrics', mode: range ? 'zoom' : 'replace', x, range, runs: metrics.map((m, i) => ({ runId: ids[i], metrics: m })) });
  }

  protected async handle(m: RunViewToExtension): Promise<void> {
    const s = this.state;
    switch (m.type) {
      case 'ready':
        this.ready = true;
        await this.load();
        return;
      case 'refresh':
        await this.load();
        return;
      case 'queryMetrics':
        await this.queryMetrics(m.x, m.range);
        return;
      case 'artifact':
        if (m.action === 'reveal') await this.services.artifactsTree.revealVersion(m.version, { select: true, focus: false, expand: false });
        else if (m.action === 'lineage') {
          const v = await (await this.http()).version(m.version.entity, m.version.project, m.version.name, m.version.version);
          await vscode.commands.executeCommand('amphora.showLineage', v);
        } else await vscode.commands.executeCommand('amphora.openProducerCode', m.version);
        return;
      case 'openFile':
        await vscode.commands.executeCommand('vscode.open', runFileUri({ entity: s.entity, project: s.project, runId: m.runId, path: m.path }), { preview: true, viewColumn: vscode.ViewColumn.Beside });
        return;
      case 'loadImage':
        await this.sendImage(m.path);
        return;
      case 'loadTable': {
        if (s.kind !== 'run') return;
        if (!this.files.get(s.runId)?.has(m.path) || !m.path.endsWith('.table.json')) {
          this.post({ type: 'table', path: m.path, text: null, error: `${m.path} is not a table file of this run.` });
          return;
        }
        const t = await readTableText(runFileUri({ entity: s.entity, project: s.project, runId: s.runId, path: m.path }));
        this.post({ type: 'table', path: m.path, text: t.text, error: t.error });
        return;
      }
      case 'openAsJson':
        return;
      case 'openCode':
        await vscode.commands.executeCommand('amphora.openRunCode', { entity: s.entity, project: s.project, runId: m.runId, callSite: m.callSite });
        return;
      case 'openRun':
        await vscode.commands.executeCommand('amphora.openRun', { entity: s.entity, project: s.project, runId: m.runId });
        return;
      case 'compareRuns':
        await vscode.commands.executeCommand('amphora.compareRuns', { entity: s.entity, project: s.project, runIds: m.runIds });
        return;
      case 'experimentsPrefs':
        if (s.kind === 'experiments') await this.services.context.workspaceState.update(experimentsPrefsKey(s.entity, s.project), m.prefs);
        return;
      case 'error':
        this.services.output.appendLine(`[runs webview] ${m.message}`);
        return;
    }
  }

  private async sendImage(path: string): Promise<void> {
    const runId = this.state.kind === 'run' ? this.state.runId : undefined;
    const file = runId ? this.files.get(runId)?.get(path) : undefined;
    const mime = imageMime(path);
    const fail = (error: string) => this.post({ type: 'image', path, dataUrl: null, error });
    if (!file || !mime) return fail('not an image file of this run');
    if (file.size > MAX_IMAGE_BYTES) return fail(`too large to preview (${Math.round(file.size / 1048576)} MB); open it from Files`);
    try {
      const http = await this.http();
      const chunks: Buffer[] = [];
      for await (const chunk of await http.getBlobStream(file.digest)) chunks.push(chunk as Buffer);
      this.post({ type: 'image', path, dataUrl: `data:${mime};base64,${Buffer.concat(chunks).toString('base64')}`, error: null });
    } catch (e) {
      fail(`could not be downloaded: ${(e as Error).message}`);
    }
  }

  protected override onDispose(): void {
    clearTimeout(this.liveTimer);
  }
}
