/**
 * The Artifacts view's rows: project → type → artifact → versions → files (folders nested).
 * Server events reload just the affected project (debounced), so new versions and alias moves
 * show within a second without a manual refresh. No `vscode` here (artifactsTree.ts shows it).
 */
import type { ArtifactCollection, ServerEvent } from '../../core/api.js';
import { impactOf, type EventImpact } from '../logic/events.js';
import { plural } from '../logic/format.js';
import type { VersionTarget } from '../services.js';
import { nodeIds } from './nodeIds.js';
import { CollectionNode, MessageNode, OPEN_SELECTED_FILE, PagedNode, TreeNode, VersionNode, type TreeContext, type TreeHttp } from './nodes.js';
import type { TreeRow } from './treeRow.js';
import { TreeModel, type TreeSource } from './treeModel.js';

/** Events arriving within this time are applied together. */
export const ARTIFACTS_DEBOUNCE_MS = 150;

export class ProjectNode extends TreeNode {
  constructor(ctx: TreeContext, readonly entity: string, readonly project: string, readonly artifactCount: number) {
    super(ctx, undefined, nodeIds.project(entity, project));
  }
  row(): TreeRow {
    return { ...this.item(this.project, true, false), description: `${this.entity} · ${plural(this.artifactCount, 'artifact')}`, icon: { id: 'project' }, contextValue: 'project' };
  }
  protected override async loadChildren(): Promise<TreeNode[]> {
    const types = await this.requireHttp().artifactTypes(this.entity, this.project);
    if (types.items.length === 0) return [new MessageNode(this.ctx, this, nodeIds.note(this.id, 'empty'), 'No artifacts in this project yet')];
    return types.items
      .sort((a, b) => a.type.localeCompare(b.type))
      .map((t) => new TypeNode(this.ctx, this, this.entity, this.project, t.type, t.collectionCount));
  }
}

export class TypeNode extends PagedNode<ArtifactCollection> {
  constructor(ctx: TreeContext, parent: TreeNode, readonly entity: string, readonly project: string, readonly type: string, readonly count: number) {
    super(ctx, parent, nodeIds.artifactType(entity, project, type));
  }
  row(): TreeRow {
    return {
      ...this.item(this.type, true, true),
      description: plural(this.count, 'artifact'),
      icon: { id: this.type === 'model' ? 'hubot' : this.type === 'dataset' ? 'database' : 'symbol-class' },
      contextValue: 'artifactType',
    };
  }
  protected fetchPage(limit: number, cursor: string | null) {
    return this.requireHttp().collections(this.entity, this.project, { type: this.type, limit, cursor: cursor ?? undefined });
  }
  protected childFor(c: ArtifactCollection): TreeNode {
    return new CollectionNode(this.ctx, this, nodeIds.collection(this.entity, this.project, c.name), this.entity, this.project, c);
  }
}

export class ArtifactsTreeModel extends TreeModel {
  private pending: EventImpact[] = [];
  private full = false;
  private timer?: NodeJS.Timeout;

  /** `onEmpty` hears whether the server has no artifacts at all (the view shows its welcome then). */
  constructor(source: TreeSource, private readonly onEmpty: (empty: boolean) => void = () => undefined) {
    super(source, OPEN_SELECTED_FILE.artifacts);
  }

  protected async loadRoots(http: TreeHttp): Promise<TreeNode[]> {
    const projects = (await http.projects()).items.filter((p) => p.artifactCount > 0);
    this.onEmpty(projects.length === 0);
    return projects.sort((a, b) => a.name.localeCompare(b.name)).map((p) => new ProjectNode(this.ctx, p.entity, p.name, p.artifactCount));
  }

  /** Coalesces bursts of events into one reload per affected project. */
  handleEvent(e: ServerEvent): void {
    const impact = impactOf(e);
    if (!impact.collection) return;
    // A first version means a new artifact: counts on the rows above change too.
    this.full ||= e.type === 'version.created' && e.version.index === 0;
    this.pending.push(impact);
    this.timer ??= setTimeout(() => this.flush(), ARTIFACTS_DEBOUNCE_MS);
  }

  private flush(): void {
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (this.full) {
      this.full = false;
      return this.refresh();
    }
    // The project row itself: its whole subtree is rebuilt in one pass (refreshing a parent and
    // a child in the same batch races inside VS Code).
    this.reload(new Set(batch.map((i) => nodeIds.project(i.entity, i.project))));
  }

  /** The version's row, expanding (and paging through) its project, type and artifact. */
  async findVersion(target: VersionTarget): Promise<VersionNode | undefined> {
    const http = this.source.http();
    if (!http) return undefined;
    // The row sits under the version's type, and an alias names no row: ask the server for both.
    const v = await http.version(target.entity, target.project, target.name, target.version);
    const project = await this.findChild(undefined, nodeIds.project(v.entity, v.project));
    const type = project && (await this.findChild(project, nodeIds.artifactType(v.entity, v.project, v.type)));
    const collection = type && (await this.findChild(type, nodeIds.collection(v.entity, v.project, v.name)));
    const version = collection && (await this.findChild(collection, nodeIds.version(v.entity, v.project, v.name, v.version)));
    return version instanceof VersionNode ? version : undefined;
  }

  override dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    super.dispose();
  }
}
