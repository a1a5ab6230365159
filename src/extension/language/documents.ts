/**
 * Which documents carry artifact references, and the text their project choice reads: a Python,
 * TypeScript or JavaScript file, or a Python cell of a Jupyter notebook, whose `init(project=…)`
 * usually sits in another cell, so a cell is read together with the notebook's other code cells.
 */
import * as vscode from 'vscode';
import type { ArtifactRef } from '../../core/reference.js';
import type { ProjectIndex } from '../logic/collectionIndex.js';
import type { ExtensionServices } from '../services.js';

export const REFERENCE_LANGUAGES = ['python', 'typescript', 'javascript', 'typescriptreact', 'javascriptreact'];
/** Notebook cells have their own scheme; the language filter alone also matches them, this says so. */
export const NOTEBOOK_CELL_SCHEME = 'vscode-notebook-cell';

export const REFERENCE_SELECTOR: vscode.DocumentFilter[] = [
  ...REFERENCE_LANGUAGES.map((language) => ({ language })),
  { notebookType: 'jupyter-notebook', language: 'python' },
];

export function isReferenceDocument(doc: vscode.TextDocument): boolean {
  return REFERENCE_LANGUAGES.includes(doc.languageId) && doc.uri.scheme !== 'output';
}

/** The notebook a cell document belongs to. */
function notebookOf(doc: vscode.TextDocument): vscode.NotebookDocument | undefined {
  if (doc.uri.scheme !== NOTEBOOK_CELL_SCHEME) return undefined;
  return vscode.workspace.notebookDocuments.find((nb) => nb.getCells().some((cell) => cell.document === doc));
}

/**
 * The text whose `init(project=…)` decides the project of `doc`'s references: the file itself, or
 * for a notebook cell the cell first (its own `init` wins), then the notebook's other code cells.
 */
export function projectSourceOf(doc: vscode.TextDocument): string {
  const nb = notebookOf(doc);
  if (!nb) return doc.getText();
  const others = nb.getCells().filter((c) => c.kind === vscode.NotebookCellKind.Code && c.document !== doc).map((c) => c.document.getText());
  return [doc.getText(), ...others].join('\n');
}

/** The index of the project `ref` (possibly partial: only its qualifiers matter) means in `source`. */
export async function indexFor(services: ExtensionServices, ref: Pick<ArtifactRef, 'entity' | 'project'>, source: string): Promise<ProjectIndex | undefined> {
  if (!services.connection.current) return undefined;
  const full: ArtifactRef = { name: '_', selector: 'latest', isVersion: false, explicitSelector: false, entity: ref.entity, project: ref.project };
  const ctx = await services.resolver.contextFor(full, source);
  if ('problem' in ctx) return undefined;
  try {
    return await services.collections.get(ctx.entity, ctx.project);
  } catch {
    return undefined;
  }
}
