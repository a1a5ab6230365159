/**
 * What a tree row shows, as plain data: the nodes build these and the VS Code side turns them
 * into TreeItems (views/treeItem.ts), so the trees' logic runs and is tested without `vscode`.
 */
export interface TreeRowIcon {
  /** A codicon id (`tag`, `versions`, `sync~spin`), or the file icon theme's `file` / `folder`. */
  id: string;
  /** A theme colour id (`charts.green`). */
  color?: string;
  /** Use the file icon theme (files and folders) instead of a codicon. */
  themeFile?: 'file' | 'folder';
}

export interface TreeRowCommand {
  command: string;
  title: string;
  arguments?: unknown[];
}

export interface TreeRow {
  id: string;
  label: string;
  description?: string;
  /** Plain tooltip, or Markdown (already escaped: `safeText`) when `tooltipMarkdown` is set. */
  tooltip?: string;
  tooltipMarkdown?: string;
  /** Commands the Markdown tooltip may run from its links (`command:` URIs); none otherwise. */
  tooltipCommands?: string[];
  icon?: TreeRowIcon;
  collapsible: 'none' | 'collapsed' | 'expanded';
  contextValue?: string;
  command?: TreeRowCommand;
  /** A path for the file icon theme (`amphora-tree:/a/b.csv`). */
  resourcePath?: string;
}
