/**
 * What the Artifacts and Runs trees share, without `vscode`: the root rows (cached until a
 * refresh), every node by id (for reveal and targeted refreshes), change notifications, and
 * finding a child through "Load more" pages. The VS Code providers (treeProvider.ts) only turn
 * these nodes into TreeItems.
 */
import type { Role } from '../../core/api.js';
import { PAGE_SIZE } from '../logic/fileTree.js';
import { MessageNode, MoreNode, PagedNode, type TreeContext, type TreeHttp, type TreeNode } from './nodes.js';

/** Where a tree gets its data: the connection's HTTP client (undefined while disconnected) and roles. */
export interface TreeSource {
  http(): TreeHttp | undefined;
  role(entity: string, project: string): Role | null;
}

export abstract class TreeModel {
  private readonly nodes = new Map<string, TreeNode>();
  /** Rows shown per paged list beyond the first page; survives reloads and refreshes. */
  private readonly shown = new Map<string, number>();
  private roots?: Promise<TreeNode[]>;
  private readonly listeners = new Set<(node: TreeNode | undefined) => void>();
  protected readonly ctx: TreeContext;

  constructor(protected readonly source: TreeSource, openFileCommand: string) {
    this.ctx = {
      openFileCommand,
      http: () => source.http(),
      track: (n) => this.nodes.set(n.id, n),
      changed: (n) => this.fire(n),
      role: (e, p) => source.role(e, p),
      shownRows: (id) => this.shown.get(id) ?? PAGE_SIZE,
      setShownRows: (id, count) => this.shown.set(id, count),
    };
  }

  /** `undefined`: everything changed; a node: that node and its subtree. */
  onDidChange(listener: (node: TreeNode | undefined) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  protected fire(node: TreeNode | undefined): void {
    for (const l of this.listeners) l(node);
  }

  /** The children of `node`, or the root rows. */
  children(node?: TreeNode): Promise<TreeNode[]> {
    if (node) return node.children();
    const http = this.source.http();
    if (!http) return Promise.resolve([]);
    this.roots ??= this.loadRoots(http).catch((e) => {
      this.roots = undefined;
      return [new MessageNode(this.ctx, undefined, 'error', `Could not list projects: ${(e as Error).message}`, 'error')];
    });
    return this.roots;
  }

  protected abstract loadRoots(http: TreeHttp): Promise<TreeNode[]>;

  /** The newest node shown with this id. */
  node(id: string): TreeNode | undefined {
    return this.nodes.get(id);
  }

  /**
   * "Load more…" as clicked. The row VS Code reports may be an instance this tree has since
   * replaced (a reload from server events makes new rows with the same ids), so this acts on the
   * newest row with that id. False when the tree shows no such row now (it is reloading, or the
   * list no longer needs one).
   */
  async loadMore(row: TreeNode): Promise<boolean> {
    const current = this.nodes.get(row.id);
    if (!(current instanceof MoreNode)) return false;
    return current.loadMore();
  }

  refresh(): void {
    this.roots = undefined;
    this.nodes.clear();
    this.fire(undefined);
  }

  /**
   * Reloads the subtrees of the given rows; a row not shown yet (a new project) means the root
   * list changed, so everything reloads.
   */
  protected reload(ids: Iterable<string>): void {
    const nodes = [...ids].map((id) => this.nodes.get(id));
    if (nodes.some((n) => !n)) return this.refresh();
    for (const n of nodes) {
      n!.invalidate();
      this.fire(n);
    }
  }

  /** The child of `parent` (or root) with this id, loading further pages of a paged list as needed. */
  protected async findChild(parent: TreeNode | undefined, id: string): Promise<TreeNode | undefined> {
    for (let page = 0; page < 100; page++) {
      const kids = await this.children(parent);
      const hit = kids.find((k) => k.id === id);
      if (hit) return hit;
      if (!(parent instanceof PagedNode) || !(await parent.loadMore())) return undefined;
    }
    return undefined;
  }

  dispose(): void {
    this.listeners.clear();
  }
}
