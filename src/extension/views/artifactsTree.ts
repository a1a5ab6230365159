/**
 * The Artifacts view: project → type → artifact → versions → files (folders nested).
 * Server events refresh just the affected branch (debounced), so new versions and alias moves
 * show up within a second without a manual refresh.
 */
import * as vscode from 'vscode';
import { roleFor } from '../logic/access.js';
import type { ArtifactCollection } from '../../core/api.js';
import type { ConnectionManager } from '../connection/connectionManager.js';
import type { EventBus } from '../connection/eventBus.js';
import { impactOf, type EventImpact } from '../logic/events.js';
import { plural } from '../logic/format.js';
import type { ArtifactsTreeApi, VersionTarget } from '../services.js';
import { CollectionNode, MessageNode, PagedNode, TreeNode, VersionNode, type TreeContext } from './nodes.js';

class ProjectNode extends TreeNode {
  constructor(ctx: TreeContext, id: string, readonly entity: string, readonly project: string, readonly artifactCount: number) {
    super(ctx, undefined, id);
  }
  treeItem() {
    const t = this.item(this.project, true, false);
    t.description = `${this.entity} · ${plural(this.artifactCount, 'artifact')}`;
    t.iconPath = new vscode.ThemeIcon('project');
    t.contextValue = 'project';
    return t;
  }
  protected override async loadChildren(): Promise<TreeNode[]> {
    const types = await this.requireHttp().artifactTypes(this.entity, this.project);
    if (types.items.length === 0) return [new MessageNode(this.ctx, this, `${this.id}/empty`, 'No artifacts in this project yet')];
    return types.items
      .sort((a, b) => a.type.localeCompare(b.type))
      .map((t) => new TypeNode(this.ctx, this, `${this.id}/${t.type}`, this.entity, this.project, t.type, t.collectionCount));
  }
}

class TypeNode extends PagedNode<ArtifactCollection> {
  constructor(ctx: TreeContext, parent: TreeNode, id: string, readonly entity: string, readonly project: string, readonly type: string, readonly count: number) {
    super(ctx, parent, id);
  }
  treeItem() {
    const t = this.item(this.type, true, true);
    t.description = plural(this.count, 'artifact');
    t.iconPath = new vscode.ThemeIcon(this.type === 'model' ? 'hubot' : this.type === 'dataset' ? 'database' : 'symbol-class');
    t.contextValue = 'artifactType';
    return t;
  }
  protected fetchPage(limit: number, cursor: string | null) {
    return this.requireHttp().collections(this.entity, this.project, { type: this.type, limit, cursor: cursor ?? undefined });
  }
  protected childFor(c: ArtifactCollection): TreeNode {
    return new CollectionNode(this.ctx, this, `a:${this.entity}/${this.project}/${c.name}`, this.entity, this.project, c);
  }
}

export class ArtifactsTreeProvider implements vscode.TreeDataProvider<TreeNode>, ArtifactsTreeApi, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly nodes = new Map<string, TreeNode>();
  private roots?: Promise<TreeNode[]>;
  private pending: EventImpact[] = [];
  private timer?: NodeJS.Timeout;
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
      // A first version means a new artifact: counts on the rows above change too.
      events.onEvent((e) => this.schedule(impactOf(e), e.type === 'version.created' && e.version.index === 0)),
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
      const projects = (await http.projects()).items.filter((p) => p.artifactCount > 0);
      void vscode.commands.executeCommand('setContext', 'amphora.empty', projects.length === 0);
      return projects.sort((a, b) => a.name.localeCompare(b.name)).map((p) => new ProjectNode(this.ctx, `p:${p.entity}/${p.name}`, p.entity, p.name, p.artifactCount));
    } catch (e) {
      this.roots = undefined;
      return [new MessageNode(this.ctx, undefined, 'error', `Could not list projects: ${(e as Error).message}`, 'error')];
    }
  }

  refresh(): void {
    this.roots = undefined;
    this.nodes.clear();
    this.emitter.fire(undefined);
  }

  /** Coalesces bursts of events into one refresh per affected branch. */
  private full = false;
  private schedule(impact: EventImpact, full = false) {
    if (!impact.collection) return;
    this.full ||= full;
    this.pending.push(impact);
    this.timer ??= setTimeout(() => this.flush(), 150);
  }

  private flush() {
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (this.full) {
      this.full = false;
      return this.refresh();
    }
    // One refresh per affected project, of the project row itself: its whole subtree is rebuilt
    // in one pass (refreshing a parent and a child in the same batch races inside VS Code).
    const projects = new Set<TreeNode>();
    for (const i of batch) {
      const project = this.nodes.get(`p:${i.entity}/${i.project}`);
      if (!project) return this.refresh(); // a new project: the root list changes
      projects.add(project);
    }
    for (const p of projects) {
      p.invalidate();
      this.emitter.fire(p);
    }
  }

  async revealVersion(target: VersionTarget, opts: { select?: boolean; focus?: boolean; expand?: boolean } = {}): Promise<boolean> {
    const http = this.connection.current?.http;
    if (!http || !this.view) return false;
    const v = await http.version(target.entity, target.project, target.name, target.version);
    const find = async (parent: TreeNode | undefined, id: string): Promise<TreeNode | undefined> => {
      for (let page = 0; page < 100; page++) {
        const kids = await this.getChildren(parent);
        const hit = kids.find((k) => k.id === id);
        if (hit) return hit;
        if (!(parent instanceof PagedNode) || !(await parent.loadMore())) return undefined;
      }
      return undefined;
    };
    const project = await find(undefined, `p:${v.entity}/${v.project}`);
    const type = project && (await find(project, `p:${v.entity}/${v.project}/${v.type}`));
    const collection = type && (await find(type, `a:${v.entity}/${v.project}/${v.name}`));
    const version = collection && (await find(collection, `a:${v.entity}/${v.project}/${v.name}:${v.version}`));
    if (!(version instanceof VersionNode)) return false;
    await this.view.reveal(version, { select: opts.select ?? true, focus: opts.focus ?? true, expand: opts.expand ?? false });
    return true;
  }

  dispose() {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
    this.emitter.dispose();
  }
}
