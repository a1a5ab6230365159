/**
 * A version's manifest as nested folders, for the tree's file rows. Folders come first, then
 * files, each sorted by name; folder sizes add up their files.
 */
export interface FileLeaf {
  kind: 'file';
  name: string;
  path: string;
  size: number;
  digest: string;
  ref?: string;
}
export interface FolderBranch {
  kind: 'folder';
  name: string;
  /** "" for the root. */
  path: string;
  size: number;
  fileCount: number;
  children: (FolderBranch | FileLeaf)[];
}

export function buildFileTree(entries: Record<string, { digest: string; size: number; ref?: string }>): FolderBranch {
  const root: FolderBranch = { kind: 'folder', name: '', path: '', size: 0, fileCount: 0, children: [] };
  const folders = new Map<string, FolderBranch>([['', root]]);
  const folderFor = (path: string): FolderBranch => {
    const existing = folders.get(path);
    if (existing) return existing;
    const cut = path.lastIndexOf('/');
    const parent = folderFor(cut === -1 ? '' : path.slice(0, cut));
    const created: FolderBranch = { kind: 'folder', name: path.slice(cut + 1), path, size: 0, fileCount: 0, children: [] };
    parent.children.push(created);
    folders.set(path, created);
    return created;
  };
  for (const [path, e] of Object.entries(entries)) {
    const cut = path.lastIndexOf('/');
    const parent = folderFor(cut === -1 ? '' : path.slice(0, cut));
    parent.children.push({ kind: 'file', name: path.slice(cut + 1), path, size: e.size, digest: e.digest, ref: e.ref });
    for (let p: string | undefined = parent.path; p !== undefined; p = p === '' ? undefined : p.slice(0, Math.max(0, p.lastIndexOf('/')))) {
      const f = folders.get(p)!;
      f.size += e.size;
      f.fileCount += 1;
    }
  }
  const sort = (f: FolderBranch) => {
    f.children.sort((a, b) => (a.kind !== b.kind ? (a.kind === 'folder' ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const c of f.children) if (c.kind === 'folder') sort(c);
  };
  sort(root);
  return root;
}

/** A page of a long child list: the first `shown` items and how many remain. */
export function pageOf<T>(items: readonly T[], shown: number): { items: T[]; remaining: number } {
  return { items: items.slice(0, shown), remaining: Math.max(0, items.length - shown) };
}

export const PAGE_SIZE = 100;
