/**
 * The VS Code side shared by both trees: a TreeDataProvider over a tree model that reloads on
 * reconnect and resync, applies server events through the model, and renders rows as TreeItems.
 */
import * as vscode from 'vscode';
import type { ServerEvent } from '../../core/api.js';
import type { ConnectionManager } from '../connection/connectionManager.js';
import type { EventBus } from '../connection/eventBus.js';
import { roleFor } from '../logic/access.js';
import { FileNode, MoreNode, type TreeNode } from './nodes.js';
import type { TreeModel, TreeSource } from './treeModel.js';
import { toTreeItem } from './treeItem.js';

/** The tree's data source: the connection's client and the signed-in user's roles. */
export function connectionSource(connection: ConnectionManager): TreeSource {
  return {
    http: () => connection.current?.http,
    role: (e, p) => roleFor(connection.current?.viewer, e, p),
  };
}

export class ModelTreeProvider<M extends TreeModel & { handleEvent(e: ServerEvent): void }> implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  view?: vscode.TreeView<TreeNode>;
  private readonly disposables: { dispose(): void }[] = [];

  constructor(readonly model: M, connection: ConnectionManager, events: EventBus) {
    this.disposables.push(
      model.onDidChange((n) => this.emitter.fire(n)),
      connection.onDidChangeState(() => model.refresh()),
      events.onEvent((e) => model.handleEvent(e)),
      events.onDidResync(() => model.refresh()),
    );
  }

  getTreeItem(n: TreeNode): vscode.TreeItem {
    return toTreeItem(n.row());
  }
  getParent(n: TreeNode): TreeNode | undefined {
    return n.parent;
  }
  getChildren(n?: TreeNode): Promise<TreeNode[]> {
    return this.model.children(n);
  }
  refresh(): void {
    this.model.refresh();
  }

  /** The file row selected in this view (the click command of file rows opens it). */
  selectedFile(): FileNode | undefined {
    return this.view?.selection.find((n): n is FileNode => n instanceof FileNode);
  }

  /** `amphora.loadMore`: the row a context menu passes, else the "Load more…" rows selected in this view. */
  async loadMore(row?: unknown): Promise<boolean> {
    const rows = row instanceof MoreNode ? [row] : (this.view?.selection ?? []).filter((n) => n instanceof MoreNode);
    let loaded = false;
    for (const r of rows) loaded = (await this.model.loadMore(r)) || loaded;
    return loaded;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.model.dispose();
    this.emitter.dispose();
  }
}
