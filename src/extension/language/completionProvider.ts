/**
 * Completion of artifact names and aliases inside the reference strings the CodeLens knows
 * (`use_artifact("…")`, `useArtifact('…')`, `api.artifact("…")`…).
 */
import * as vscode from 'vscode';
import { referenceAt } from '../logic/references.js';
import type { ExtensionServices } from '../services.js';
import { completionTarget, referenceCompletions } from './completionLogic.js';
import { indexFor, projectSourceOf, REFERENCE_SELECTOR } from './documents.js';

const KIND = {
  artifact: vscode.CompletionItemKind.Module,
  alias: vscode.CompletionItemKind.Constant,
  version: vscode.CompletionItemKind.EnumMember,
} as const;

export function registerCompletion(context: vscode.ExtensionContext, services: ExtensionServices): void {
  const provider: vscode.CompletionItemProvider = {
    async provideCompletionItems(document, position, token) {
      const source = document.getText();
      const offset = document.offsetAt(position);
      const found = referenceAt(source, offset);
      if (!found) return undefined;
      const inText = offset - found.start;
      const t = completionTarget(found.text, inText);
      const index = await indexFor(services, { entity: t.entity, project: t.project }, projectSourceOf(document));
      if (!index || token.isCancellationRequested) return undefined;
      const items = referenceCompletions(found.text, inText, index).map((c) => {
        const item = new vscode.CompletionItem({ label: c.label, description: c.detail }, KIND[c.kind]);
        item.insertText = c.insertText;
        item.sortText = c.sortText;
        item.filterText = c.label;
        item.detail = c.detail;
        item.range = new vscode.Range(document.positionAt(found.start + c.replaceStart), document.positionAt(found.start + c.replaceEnd));
        return item;
      });
      return new vscode.CompletionList(items, false);
    },
  };
  context.subscriptions.push(
    vscode.languages.registerCompletionItemProvider(
      REFERENCE_SELECTOR,
      provider,
      ':', '/', '"', "'",
    ),
  );
}
