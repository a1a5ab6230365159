/**
 * The Runs view's rows: project → job type → run → inputs / outputs (the versions it used and
 * logged). No `vscode` here (runsTree.ts shows it).
 */
import type { Run, ServerEvent } from '../../core/api.js';
import { groupByJobType, impactOf, NO_JOB_TYPE } from '../logic/events.js';
import { formatAge, plural, runMarkdown } from '../logic/format.js';
import { PAGE_SIZE } from '../logic/fileTree.js';
import { nodeIds } from './nodeIds.js';
import { MessageNode, MoreNode, OPEN_SELECTED_FILE, TreeNode, VersionNode, type TreeContext, type TreeHttp } from './nodes.js';
import type { TreeRow } from './treeRow.js';
import { TreeModel, type TreeSource } from './treeModel.js';
import { paginate } from '../../core/paginate.js';

/** Job types come from the runs themselves; at most this many runs are grouped per project. */
export const MAX_GROUPED_RUNS = 5_000;
/** Events arriving within this time are applied together. */
export const RUNS_DEBOUNCE_MS = 200;

export class RunsProjectNode extends TreeNode {
  constructor(ctx: TreeContext, readonly entity: string, readonly project: string, readonly runCount: number) {
    super(ctx, undefined, nodeIds.runsProject(entity, project));
  }
  row(): TreeRow {
    return { ...this.item(this.project, true), description: `${this.entity} · ${plural(this.runCount, 'run')}`, icon: { id: 'project' }, contextValue: 'runsProject' };
  }
  protected override async loadChildren(): Promise<TreeNode[]> {
    const http = this.requireHttp();
    const runs = await paginate((q) => http.listRuns(this.entity, this.project, q), { max: MAX_GROUPED_RUNS });
    if (runs.length === 0) return [new MessageNode(this.ctx, this, nodeIds.note(this.id, 'empty'), 'No runs in this project yet')];
    return [...groupByJobType(runs)].map(([jobType, list]) => new JobTypeNode(this.ctx, this, jobType, list));
  }
}

export class JobTypeNode extends TreeNode {
  constructor(ctx: TreeContext, parent: TreeNode, readonly jobType: string, readonly runs: Run[]) {
    super(ctx, parent, nodeIds.jobType(parent.id, jobType));
  }
  row(): TreeRow {
    return {
      ...this.item(this.jobType, true),
      description: plural(this.runs.length, 'run'),
      icon: { id: this.jobType === NO_JOB_TYPE ? 'circle-outline' : 'gear' },
      contextValue: 'jobType',
    };
  }
  protected override async loadChildren(): Promise<TreeNode[]> {
    return this.render();
  }
  get shown(): number {
    return this.ctx.shownRows(this.id);
  }
  render(): TreeNode[] {
    const rows: TreeNode[] = this.runs.slice(0, this.shown).map((r) => new RunNode(this.ctx, this, r));
    if (this.runs.length > this.shown) rows.push(new RunsMoreNode(this.ctx, this));
    return rows;
  }
  /** Shows at least the first `count` runs. */
  showAtLeast(count: number): void {
    if (count <= this.shown) return;
    this.ctx.setShownRows(this.id, Math.ceil(count / PAGE_SIZE) * PAGE_SIZE);
    this.setChildren(this.render());
  }
}

/** More runs of a job type (all of them are in memory already). */
export class RunsMoreNode extends MoreNode {
  constructor(ctx: TreeContext, readonly owner: JobTypeNode) {
    super(ctx, owner, nodeIds.more(owner.id));
  }
  protected remaining() {
    return this.owner.runs.length - this.owner.shown;
  }
  async loadMore(): Promise<boolean> {
    this.owner.showAtLeast(this.owner.shown + PAGE_SIZE);
    this.ctx.changed(this.owner);
    return true;
  }
}

const STATE_ICON: Record<Run['state'], [string, string | undefined]> = {
  running: ['sync~spin', 'charts.blue'],
  finished: ['pass', 'charts.green'],
  failed: ['error', 'charts.red'],
  crashed: ['warning', 'charts.orange'],
};

export class RunNode extends TreeNode {
  constructor(ctx: TreeContext, parent: TreeNode, readonly run: Run) {
    super(ctx, parent, nodeIds.run(run.entity, run.project, run.id));
  }
  row(): TreeRow {
    const r = this.run;
    const [icon, color] = STATE_ICON[r.state];
    return {
      ...this.item(r.name, true),
      description: `${r.state} · ${formatAge(r.createdAt)}`,
      icon: { id: icon, color },
      tooltipMarkdown: runMarkdown(r),
      contextValue: 'run',
    };
  }
  protected override async loadChildren(): Promise<TreeNode[]> {
    return [new EdgeGroupNode(this.ctx, this, 'inputs'), new EdgeGroupNode(this.ctx, this, 'outputs')];
  }
}

export class EdgeGroupNode extends TreeNode {
  constructor(ctx: TreeContext, readonly runNode: RunNode, readonly kind: 'inputs' | 'outputs') {
    super(ctx, runNode, nodeIds.edgeGroup(runNode.id, kind));
  }
  row(): TreeRow {
    return {
      ...this.item(this.kind === 'inputs' ? 'Inputs' : 'Outputs', true, true),
      icon: { id: this.kind === 'inputs' ? 'arrow-right' : 'arrow-left' },
      contextValue: this.kind,
    };
  }
  protected override async loadChildren(): Promise<TreeNode[]> {
    const r = this.runNode.run;
    const http = this.requireHttp();
    const list = this.kind === 'inputs' ? await http.runInputs(r.entity, r.project, r.id) : await http.runOutputs(r.entity, r.project, r.id);
    if (list.items.length === 0) return [new MessageNode(this.ctx, this, nodeIds.note(this.id, 'none'), this.kind === 'inputs' ? 'Used no artifacts' : 'Logged no artifacts')];
    return list.items.map((v) => new VersionNode(this.ctx, this, nodeIds.edgeVersion(this.id, v.name, v.version), v));
  }
}

export class RunsTreeModel extends TreeModel {
  private timer?: NodeJS.Timeout;
  private readonly dirtyProjects = new Set<string>();

  constructor(source: TreeSource) {
    super(source, OPEN_SELECTED_FILE.runs);
  }

  protected async loadRoots(http: TreeHttp): Promise<TreeNode[]> {
    const projects = (await http.projects()).items.filter((p) => p.runCount > 0);
    return projects.sort((a, b) => a.name.localeCompare(b.name)).map((p) => new RunsProjectNode(this.ctx, p.entity, p.name, p.runCount));
  }

  handleEvent(e: ServerEvent): void {
    const i = impactOf(e);
    // Runs change state; versions logged by a run change its outputs.
    if (!i.run && !(e.type === 'version.created' && e.version.producerRun)) return;
    this.dirtyProjects.add(nodeIds.runsProject(i.entity, i.project));
    this.timer ??= setTimeout(() => this.flush(), RUNS_DEBOUNCE_MS);
  }

  private flush(): void {
    this.timer = undefined;
    const dirty = [...this.dirtyProjects];
    this.dirtyProjects.clear();
    this.reload(dirty);
  }

  /** The run's row, with its job type showing enough runs to include it. */
  async findRun(entity: string, project: string, runId: string): Promise<RunNode | undefined> {
    const p = await this.findChild(undefined, nodeIds.runsProject(entity, project));
    if (!p) return undefined;
    for (const jt of await p.children()) {
      if (!(jt instanceof JobTypeNode)) continue;
      const idx = jt.runs.findIndex((r) => r.id === runId);
      if (idx === -1) continue;
      jt.showAtLeast(idx + 1);
      const run = (await jt.children()).find((n) => n instanceof RunNode && n.run.id === runId);
      return run instanceof RunNode ? run : undefined;
    }
    return undefined;
  }

  override dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    super.dispose();
  }
}
