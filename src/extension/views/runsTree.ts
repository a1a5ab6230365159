/**
 * The Runs view: project → job type → run → inputs / outputs (the versions it used and logged).
 */
import * as vscode from 'vscode';
import { roleFor } from '../logic/access.js';
import { paginate } from '../../core/paginate.js';
import type { Run } from '../../core/api.js';
import type { ConnectionManager } from '../connection/connectionManager.js';
import type { EventBus } from '../connection/eventBus.js';
import { groupByJobType, impactOf, NO_JOB_TYPE } from '../logic/events.js';
import { formatAge, plural, runMarkdown } from '../logic/format.js';
import { PAGE_SIZE } from '../logic/fileTree.js';
import type { RunsTreeApi } from '../services.js';
import { MessageNode, TreeNode, VersionNode, type TreeContext } from './nodes.js';

/** Job types come from the runs themselves; at most this many runs are grouped per project. */
const MAX_GROUPED_RUNS = 5_000;

class RunsProjectNode extends TreeNode {
  constructor(ctx: TreeContext, id: string, readonly entity: string, readonly project: string, readonly runCount: number) {
    super(ctx, undefined, id);
  }
  treeItem() {
    const t = this.item(this.project, true);
    t.description = `${this.entity} · ${plural(this.runCount, 'run')}`;
    t.iconPath = new vscode.ThemeIcon('project');
    t.contextValue = 'runsProject';
    return t;
  }
  protected override async loadChildren(): Promise<TreeNode[]> {
    const http = this.requireHttp();
    const runs = await paginate((q) => http.listRuns(this.entity, this.project, q), { max: MAX_GROUPED_RUNS });
    if (runs.length === 0) return [new MessageNode(this.ctx, this, `${this.id}/empty`, 'No runs in this project yet')];
    return [...groupByJobType(runs)].map(([jobType, list]) => new JobTypeNode(this.ctx, this, `${this.id}/${jobType}`, jobType, list));
  }
}

class JobTypeNode extends TreeNode {
  shown = PAGE_SIZE;
  constructor(ctx: TreeContext, parent: TreeNode, id: string, readonly jobType: string, readonly runs: Run[]) {
    super(ctx, parent, id);
  }
  treeItem() {
    const t = this.item(this.jobType, true);
    t.description = plural(this.runs.length, 'run');
    t.iconPath = new vscode.ThemeIcon(this.jobType === NO_JOB_TYPE ? 'circle-outline' : 'gear');
    t.contextValue = 'jobType';
    return t;
  }
  protected override async loadChildren(): Promise<TreeNode[]> {
    return this.render();
  }
  render(): TreeNode[] {
    const rows: TreeNode[] = this.runs.slice(0, this.shown).map((r) => new RunNode(this.ctx, this, `r:${r.entity}/${r.project}/${r.id}`, r));
    if (this.runs.length > this.shown) rows.push(new RunsMoreNode(this.ctx, this, `${this.id}/more`));
    return rows;
  }
}

export class RunsMoreNode extends TreeNode {
  constructor(ctx: TreeContext, readonly owner: JobTypeNode, id: string) {
    super(ctx, owner, id);
  }
  treeItem() {
    const t = this.item(`Load more… (${this.owner.runs.length - this.owner.shown} more)`, false);
    t.iconPath = new vscode.ThemeIcon('ellipsis');
    t.command = { command: 'amphora.loadMore', title: 'Load more', arguments: [this] };
    return t;
  }
  expand() {
    this.owner.shown += PAGE_SIZE;
    this.owner.setChildren(this.owner.render());
    this.ctx.changed(this.owner);
  }
}

const STATE_ICON: Record<Run['state'], [string, string | undefined]> = {
  running: ['sync~spin', 'charts.blue'],
  finished: ['pass', 'charts.green'],
  failed: ['error', 'charts.red'],
  crashed: ['warning', 'charts.orange'],
};

export class RunNode extends TreeNode {
  constructor(ctx: TreeContext, parent: TreeNode, id: string, readonly run: Run) {
    super(ctx, parent, id);
  }
  treeItem() {
    const r = this.run;
    const t = this.item(r.name, true);
    t.description = `${r.state} · ${formatAge(r.createdAt)}`;
    const [icon, color] = STATE_ICON[r.state];
    t.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    t.tooltip = new vscode.MarkdownString(runMarkdown(r));
    t.contextValue = 'run';
    return t;
  }
  protected override async loadChildren(): Promise<TreeNode[]> {
    return [new EdgeGroupNode(this.ctx, this, `${this.id}/inputs`, 'inputs'), new EdgeGroupNode(this.ctx, this, `${this.id}/outputs`, 'outputs')];
  }
}

class EdgeGroupNode extends TreeNode {
  constructor(ctx: TreeContext, readonly runNode: RunNode, id: string, readonly kind: 'inputs' | 'outputs') {
    super(ctx, runNode, id);
  }
  treeItem() {
    const t = this.item(this.kind === 'inputs' ? 'Inputs' : 'Outputs', true, true);
    t.iconPath = new vscode.ThemeIcon(this.kind === 'inputs' ? 'arrow-right' : 'arrow-left');
    t.contextValue = this.kind;
    return t;
  }
  protected override async loadChildren(): Promise<TreeNode[]> {
    const r = this.runNode.run;
    const http = this.requireHttp();
    const list = this.kind === 'inputs' ? await http.runInputs(r.entity, r.project, r.id) : await http.runOutputs(r.entity, r.project, r.id);
    if (list.items.length === 0) return [new MessageNode(this.ctx, this, `${this.id}/none`, this.kind === 'inputs' ? 'Used no artifacts' : 'Logged no artifacts')];
    return list.items.map((v) => new VersionNode(this.ctx, this, `${this.id}/${v.name}:${v.version}`, v));
  }
}

export class RunsTreeProvider implements vscode.TreeDataProvider<TreeNode>, RunsTreeApi, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly nodes = new Map<string, TreeNode>();
  private roots?: Promise<TreeNode[]>;
  private timer?: NodeJS.Timeout;
  private dirtyProjects = new Set<string>();
  view?: vscode.TreeView<TreeNode>;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly ctx: TreeContext;

  constructor(private readonly connection: ConnectionManager, events: EventBus) {
    this.ctx = {
      http: () => this.connection.current?.http,
      track: (n) => this.nodes.set(n.id, n),
      changed: (n) => this.emitter.fire(n),
      role: (e, p) => roleFor(this.connection.current?.viewer, e, p),
    };
    this.disposables.push(
      connection.onDidChangeState(() => this.refresh()),
      events.onEvent((e) => {
        const i = impactOf(e);
        // Runs change state; versions logged by a run change its outputs.
        if (i.run || (e.type === 'version.created' && e.version.producerRun)) {
          this.dirtyProjects.add(`rp:${i.entity}/${i.project}`);
          this.timer ??= setTimeout(() => this.flush(), 200);
        }
      }),
      events.onDidResync(() => this.refresh()),
    );
  }

  getTreeItem(n: TreeNode) {
    return n.treeItem();
  }
  getParent(n: TreeNode) {
    return n.parent;
  }
  getChildren(n?: TreeNode): Promise<TreeNode[]> | TreeNode[] {
    if (n) return n.children();
    if (!this.connection.current) return [];
    this.roots ??= this.loadRoots();
    return this.roots;
  }
  private async loadRoots(): Promise<TreeNode[]> {
    const http = this.connection.current?.http;
    if (!http) return [];
    try {
      const projects = (await http.projects()).items.filter((p) => p.runCount > 0);
      return projects.sort((a, b) => a.name.localeCompare(b.name)).map((p) => new RunsProjectNode(this.ctx, `rp:${p.entity}/${p.name}`, p.entity, p.name, p.runCount));
    } catch (e) {
      this.roots = undefined;
      return [new MessageNode(this.ctx, undefined, 'error', `Could not list projects: ${(e as Error).message}`, 'error')];
    }
  }
  private flush() {
    this.timer = undefined;
    const dirty = [...this.dirtyProjects];
    this.dirtyProjects.clear();
    const nodes = dirty.map((id) => this.nodes.get(id));
    // A project we have not listed yet (first run) needs the root list again.
    if (nodes.some((n) => !n)) return this.refresh();
    for (const n of nodes) {
      n!.invalidate();
      this.emitter.fire(n);
    }
  }
  refresh(): void {
    this.roots = undefined;
    this.nodes.clear();
    this.emitter.fire(undefined);
  }

  async revealRun(entity: string, project: string, runId: string, opts: { select?: boolean; focus?: boolean } = {}): Promise<boolean> {
    if (!this.view || !this.connection.current) return false;
    const roots = await this.getChildren();
    const p = roots.find((n) => n.id === `rp:${entity}/${project}`);
    if (!p) return false;
    for (const jt of await p.children()) {
      if (!(jt instanceof JobTypeNode)) continue;
      const idx = jt.runs.findIndex((r) => r.id === runId);
      if (idx === -1) continue;
      if (idx >= jt.shown) {
        jt.shown = Math.ceil((idx + 1) / PAGE_SIZE) * PAGE_SIZE;
        jt.setChildren(jt.render());
      }
      const runNode = (await jt.children()).find((n) => n instanceof RunNode && n.run.id === runId);
      if (!runNode) return false;
      await this.view.reveal(runNode, { select: opts.select ?? true, focus: opts.focus ?? true, expand: true });
      return true;
    }
    return false;
  }

  dispose() {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
    this.emitter.dispose();
  }
}
