/**
 * Tree nodes shared by the Artifacts and Runs views. Every node knows its parent (for `reveal`)
 * and loads and caches its own children; dropping the cache (`invalidate`) makes the next expand
 * fetch again. Long lists page: 100 rows, then a "Load more" row. Nodes describe their rows as
 * plain data (TreeRow): no `vscode` here, so the trees are tested in plain Node.
 */
import type { ArtifactVersion, Role } from '../../core/api.js';
import { versionContextValue } from '../logic/access.js';
import { buildFileTree, PAGE_SIZE, type FileLeaf, type FolderBranch } from '../logic/fileTree.js';
import { collectionMarkdown, formatBytes, plural, versionMarkdown, versionRowDescription } from '../logic/format.js';
import type { AmphoraHttp } from '../../client/http.js';
import { nodeIds } from './nodeIds.js';
import type { TreeRow } from './treeRow.js';

/** The server calls the trees make. */
export type TreeHttp = Pick<AmphoraHttp, 'projects' | 'artifactTypes' | 'collections' | 'versions' | 'version' | 'manifest' | 'listRuns' | 'runInputs' | 'runOutputs'>;

/**
 * The click command of file rows, one per tree. It carries no arguments and opens the file selected
 * in its own view: VS Code keeps a row command's arguments only while that row lives, so a click
 * landing as server events reload the tree failed with "Actual command not found".
 */
export const OPEN_SELECTED_FILE = { artifacts: 'amphora.artifacts.openSelectedFile', runs: 'amphora.runs.openSelectedFile' } as const;

export interface TreeContext {
  http(): TreeHttp | undefined;
  /** Remembers the newest node instance per id (for reveal and targeted refresh). */
  track(node: TreeNode): void;
  changed(node: TreeNode | undefined): void;
  /** The signed-in user's role on a project (null: none), for what menus offer. */
  role(entity: string, project: string): Role | null;
  /** This tree's click command of file rows (OPEN_SELECTED_FILE). */
  readonly openFileCommand: string;
  /**
   * How many rows a paged list showed (after "Load more"), kept by the list's id as VS Code keeps
   * expansion: server events rebuild a project's subtree with new nodes, and a user who loaded
   * more must not see the list fall back to its first page.
   */
  shownRows(id: string): number;
  setShownRows(id: string, count: number): void;
}

export abstract class TreeNode {
  private childrenCache?: Promise<TreeNode[]>;
  constructor(
    readonly ctx: TreeContext,
    readonly parent: TreeNode | undefined,
    readonly id: string,
  ) {
    ctx.track(this);
  }
  abstract row(): TreeRow;
  protected async loadChildren(): Promise<TreeNode[]> {
    return [];
  }
  children(): Promise<TreeNode[]> {
    this.childrenCache ??= this.loadChildren().catch((e) => [new MessageNode(this.ctx, this, nodeIds.note(this.id, 'error'), `Could not load: ${(e as Error).message}`, 'error')]);
    return this.childrenCache;
  }
  invalidate(): void {
    this.childrenCache = undefined;
  }
  /** Serves already rendered rows (after "Load more") without refetching. */
  setChildren(rows: TreeNode[]): void {
    this.childrenCache = Promise.resolve(rows);
  }
  protected item(label: string, collapsible: boolean, expanded = false): TreeRow {
    return { id: this.id, label, collapsible: collapsible ? (expanded ? 'expanded' : 'collapsed') : 'none' };
  }
  protected requireHttp(): TreeHttp {
    const h = this.ctx.http();
    if (!h) throw new Error('not connected to an Amphora server');
    return h;
  }
}

export class MessageNode extends TreeNode {
  constructor(ctx: TreeContext, parent: TreeNode | undefined, id: string, private readonly text: string, private readonly icon = 'info') {
    super(ctx, parent, id);
  }
  row(): TreeRow {
    return { ...this.item(this.text, false), icon: { id: this.icon }, tooltip: this.text, contextValue: 'message' };
  }
}

/** A node whose children come in pages (server cursor or a local list). */
export abstract class PagedNode<T> extends TreeNode {
  protected loaded: T[] = [];
  protected cursor: string | null = null;
  protected abstract fetchPage(limit: number, cursor: string | null): Promise<{ items: T[]; nextCursor: string | null }>;
  protected abstract childFor(item: T): TreeNode;
  /** The page being loaded: a second click (or Enter) while it loads waits for it, not a copy. */
  private loading?: Promise<boolean>;
  /** Bumped by every first-page load: a "Load more" that started before it is discarded. */
  private generation = 0;
  protected override async loadChildren(): Promise<TreeNode[]> {
    const generation = ++this.generation;
    // After a refresh, load as many rows as were shown before (the server caps a page at 1000).
    const first = await this.fetchPage(Math.min(1000, this.ctx.shownRows(this.id)), null);
    if (generation === this.generation) {
      this.loaded = first.items;
      this.cursor = first.nextCursor;
    }
    return this.render();
  }
  private render(): TreeNode[] {
    const rows = this.loaded.map((i) => this.childFor(i));
    if (this.cursor) rows.push(new LoadMoreNode(this.ctx, this, nodeIds.more(this.id)));
    return rows;
  }
  /**
   * Loads the next page; false when there was none. Clicks that arrive while a page loads share
   * it: two loads from one cursor appended the same versions twice, and VS Code then refused the
   * whole list for its duplicate ids.
   */
  loadMore(): Promise<boolean> {
    this.loading ??= this.loadNextPage().finally(() => (this.loading = undefined));
    return this.loading;
  }
  private async loadNextPage(): Promise<boolean> {
    if (!this.cursor) return false;
    const generation = this.generation;
    // Said first, so that a reload meanwhile fetches the rows this click asked for.
    this.ctx.setShownRows(this.id, this.loaded.length + PAGE_SIZE);
    const next = await this.fetchPage(PAGE_SIZE, this.cursor);
    if (generation !== this.generation) return true; // that reload has them
    this.loaded = [...this.loaded, ...next.items];
    this.cursor = next.nextCursor;
    this.ctx.setShownRows(this.id, this.loaded.length);
    this.setChildren(this.render());
    this.ctx.changed(this);
    return true;
  }
  hasMore(): boolean {
    return this.cursor !== null;
  }
}

/**
 * The one "Load more…" row of every paged list (server pages, a manifest folder, a job type's
 * runs): `amphora.loadMore` calls `loadMore()` on whichever it is.
 */
export abstract class MoreNode extends TreeNode {
  /** How many more rows there are, when known. */
  protected abstract remaining(): number | undefined;
  /** Loads the next rows; false when there were none. */
  abstract loadMore(): Promise<boolean>;
  row(): TreeRow {
    const n = this.remaining();
    return {
      ...this.item(n === undefined ? 'Load more…' : `Load more… (${n} more)`, false),
      icon: { id: 'ellipsis' },
      // No arguments on purpose: VS Code keeps a command's arguments only while its row lives, and
      // a tree reloading from server events replaces the row, so a click that lands in between
      // failed with "Actual command not found". The command finds the row in the view's selection
      // instead (VS Code keeps selections by id across reloads).
      command: { command: 'amphora.loadMore', title: 'Load more' },
      contextValue: 'loadMore',
    };
  }
}

/** More rows of a server-paged list. */
export class LoadMoreNode extends MoreNode {
  constructor(ctx: TreeContext, readonly owner: PagedNode<unknown>, id: string) {
    super(ctx, owner, id);
  }
  protected remaining() {
    return undefined;
  }
  loadMore(): Promise<boolean> {
    return this.owner.loadMore();
  }
}

/** A version row (used by the Artifacts tree and under runs' inputs/outputs). */
export class VersionNode extends TreeNode {
  private tree?: FolderBranch;
  constructor(ctx: TreeContext, parent: TreeNode | undefined, id: string, readonly version: ArtifactVersion) {
    super(ctx, parent, id);
  }
  row(): TreeRow {
    const v = this.version;
    const underRun = !(this.parent instanceof CollectionNode);
    return {
      ...this.item(underRun ? `${v.name}:${v.version}` : v.version, v.fileCount > 0),
      description: underRun ? `${v.type} · ${versionRowDescription(v)}` : versionRowDescription(v),
      tooltipMarkdown: versionMarkdown(v) + producerCodeLink(v),
      tooltipCommands: v.producerRun ? ['amphora.openProducerCode'] : undefined,
      icon: { id: v.aliases.some((a) => a !== 'latest') ? 'tag' : 'versions' },
      contextValue: versionContextValue(v, this.ctx.role(v.entity, v.project)),
    };
  }
  protected override async loadChildren(): Promise<TreeNode[]> {
    const v = this.version;
    if (!this.tree) {
      const m = await this.requireHttp().manifest(v.entity, v.project, v.name, v.version);
      this.tree = buildFileTree(m.entries);
    }
    return folderChildren(this.ctx, this, this.tree, this.version);
  }
}

function folderChildren(ctx: TreeContext, parent: TreeNode, folder: FolderBranch, version: ArtifactVersion): TreeNode[] {
  const shown = ctx.shownRows(parent.id);
  const rows: TreeNode[] = folder.children.slice(0, shown).map((c) =>
    c.kind === 'folder' ? new FolderNode(ctx, parent, nodeIds.folder(parent.id, c.name), c, version) : new FileNode(ctx, parent, nodeIds.file(parent.id, c.name), c, version),
  );
  if (folder.children.length > shown) rows.push(new LocalMoreNode(ctx, parent, nodeIds.more(parent.id), folder, version, shown));
  return rows;
}

/** "Load more" inside a manifest folder (the manifest is already in memory). */
export class LocalMoreNode extends MoreNode {
  constructor(ctx: TreeContext, parent: TreeNode, id: string, readonly folder: FolderBranch, readonly version: ArtifactVersion, readonly shown: number) {
    super(ctx, parent, id);
  }
  protected remaining() {
    return this.folder.children.length - this.shown;
  }
  async loadMore(): Promise<boolean> {
    const p = this.parent!;
    this.ctx.setShownRows(p.id, this.shown + PAGE_SIZE);
    p.setChildren(folderChildren(this.ctx, p, this.folder, this.version));
    this.ctx.changed(p);
    return true;
  }
}

export class FolderNode extends TreeNode {
  constructor(ctx: TreeContext, parent: TreeNode, id: string, readonly folder: FolderBranch, readonly version: ArtifactVersion) {
    super(ctx, parent, id);
  }
  row(): TreeRow {
    return {
      ...this.item(this.folder.name, true),
      description: `${plural(this.folder.fileCount, 'file')} · ${formatBytes(this.folder.size)}`,
      icon: { id: 'folder', themeFile: 'folder' },
      resourcePath: `/${this.folder.path}`,
      contextValue: 'folder',
    };
  }
  protected override async loadChildren(): Promise<TreeNode[]> {
    return folderChildren(this.ctx, this, this.folder, this.version);
  }
}

export class FileNode extends TreeNode {
  constructor(ctx: TreeContext, parent: TreeNode, id: string, readonly file: FileLeaf, readonly version: ArtifactVersion) {
    super(ctx, parent, id);
  }
  row(): TreeRow {
    const f = this.file;
    return {
      ...this.item(f.name, false),
      description: formatBytes(f.size),
      tooltip: `${f.path}\n${formatBytes(f.size)}\n${f.ref ? `reference: ${f.ref}\n` : ''}sha256: ${f.digest}`,
      icon: { id: 'file', themeFile: 'file' },
      resourcePath: `/${f.path}`,
      contextValue: 'file',
      // A click opens the file read-only through the amphora: file system (no download).
      command: { command: this.ctx.openFileCommand, title: 'Open File' },
    };
  }
}

/** Collection rows live here too so VersionNode can tell where it sits. */
export class CollectionNode extends PagedNode<ArtifactVersion> {
  constructor(
    ctx: TreeContext,
    parent: TreeNode,
    id: string,
    readonly entity: string,
    readonly project: string,
    readonly collection: { name: string; type: string; versionCount: number; description: string | null; latest: ArtifactVersion | null; updatedAt: string },
  ) {
    super(ctx, parent, id);
  }
  row(): TreeRow {
    const c = this.collection;
    return {
      ...this.item(c.name, c.versionCount > 0),
      description: `${plural(c.versionCount, 'version')}${c.latest ? ` · latest ${c.latest.version}` : ''}`,
      tooltipMarkdown: collectionMarkdown(c),
      icon: { id: 'package' },
      contextValue: 'collection',
    };
  }
  protected fetchPage(limit: number, cursor: string | null) {
    return this.requireHttp().versions(this.entity, this.project, this.collection.name, { limit, cursor: cursor ?? undefined });
  }
  protected childFor(v: ArtifactVersion): TreeNode {
    return new VersionNode(this.ctx, this, nodeIds.version(this.entity, this.project, v.name, v.version), v);
  }
}

/** A tooltip link to the code that logged a version (only versions a run produced have one). */
function producerCodeLink(v: ArtifactVersion): string {
  if (!v.producerRun) return '';
  const arg = encodeURIComponent(JSON.stringify([{ entity: v.entity, project: v.project, name: v.name, version: v.version }]));
  return `\n\n[$(go-to-file) Open Producer Code](command:amphora.openProducerCode?${arg})`;
}
