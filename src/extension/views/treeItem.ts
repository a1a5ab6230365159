/** A TreeRow (plain data from the tree models) as VS Code's TreeItem. */
import * as vscode from 'vscode';
import type { TreeRow } from './treeRow.js';

const COLLAPSIBLE = {
  none: vscode.TreeItemCollapsibleState.None,
  collapsed: vscode.TreeItemCollapsibleState.Collapsed,
  expanded: vscode.TreeItemCollapsibleState.Expanded,
} as const;

export function toTreeItem(row: TreeRow): vscode.TreeItem {
  const t = new vscode.TreeItem(row.label, COLLAPSIBLE[row.collapsible]);
  t.id = row.id;
  t.description = row.description;
  if (row.tooltipMarkdown !== undefined) {
    const md = new vscode.MarkdownString(row.tooltipMarkdown, Boolean(row.tooltipCommands?.length));
    if (row.tooltipCommands?.length) md.isTrusted = { enabledCommands: row.tooltipCommands };
    t.tooltip = md;
  } else t.tooltip = row.tooltip;
  if (row.icon?.themeFile) t.iconPath = row.icon.themeFile === 'folder' ? vscode.ThemeIcon.Folder : vscode.ThemeIcon.File;
  else if (row.icon) t.iconPath = new vscode.ThemeIcon(row.icon.id, row.icon.color ? new vscode.ThemeColor(row.icon.color) : undefined);
  // Only for the file icon theme: rows are not files on disk.
  if (row.resourcePath) t.resourceUri = vscode.Uri.from({ scheme: 'amphora-tree', path: row.resourcePath });
  t.contextValue = row.contextValue;
  t.command = row.command;
  return t;
}
