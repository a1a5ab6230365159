/**
 * Diagnostics on artifact reference strings: unknown artifacts/aliases/versions (warning, quick
 * fix to the nearest name) and moving aliases (information, quick fix "Pin to vN"). Recomputed
 * when a document changes (debounced) and when the server's events invalidate what we know.
 */
import * as vscode from 'vscode';
import { scanReferences } from '../logic/references.js';
import type { ExtensionServices } from '../services.js';
import { indexFor, isReferenceDocument, projectSourceOf, REFERENCE_SELECTOR } from './documents.js';
import { diagnoseReference } from './diagnosticsLogic.js';

const SOURCE = 'amphora';
const DEBOUNCE_MS = 400;

/** A quick fix placed in the text it was computed for. */
type PlacedFix = { title: string; range: vscode.Range; newText: string };

export function registerDiagnostics(context: vscode.ExtensionContext, services: ExtensionServices): void {
  const collection = vscode.languages.createDiagnosticCollection(SOURCE);
  /**
   * Quick fixes by document and diagnostic (the diagnostics VS Code hands back are copies), with
   * the document version they were computed for: their ranges hold only for that text. After an edit (say, a pin on the line above, which shifts offsets)
   * no fix is offered until the diagnostics are recomputed; a stale one rewrote the wrong span.
   */
  const fixes = new Map<string, { version: number; byKey: Map<string, PlacedFix> }>();
  const timers = new Map<string, NodeJS.Timeout>();
  const versions = new Map<string, number>();
  const keyOf = (range: vscode.Range, code: string) => `${range.start.line}:${range.start.character}-${range.end.line}:${range.end.character}#${code}`;

  const relevant = isReferenceDocument;

  async function update(doc: vscode.TextDocument): Promise<void> {
    if (!relevant(doc)) return;
    const uri = doc.uri.toString();
    const version = doc.version;
    versions.set(uri, version);
    const source = doc.getText();
    const projectSource = projectSourceOf(doc);
    const diagnostics: vscode.Diagnostic[] = [];
    const docFixes = new Map<string, PlacedFix>();
    for (const found of scanReferences(source)) {
      const index = found.parsed ? await indexFor(services, found.parsed, projectSource) : undefined;
      for (const d of diagnoseReference(found, index)) {
        const range = new vscode.Range(doc.positionAt(d.start), doc.positionAt(d.end));
        const diag = new vscode.Diagnostic(range, d.message, d.severity === 'warning' ? vscode.DiagnosticSeverity.Warning : vscode.DiagnosticSeverity.Information);
        diag.source = SOURCE;
        diag.code = d.code;
        diagnostics.push(diag);
        if (d.fix) docFixes.set(keyOf(range, d.code), { title: d.fix.title, range: new vscode.Range(doc.positionAt(d.fix.start), doc.positionAt(d.fix.end)), newText: d.fix.newText });
      }
    }
    // A newer edit started its own pass meanwhile.
    if (versions.get(uri) !== version || doc.isClosed) return;
    fixes.set(uri, { version, byKey: docFixes });
    collection.set(doc.uri, diagnostics);
  }

  function schedule(doc: vscode.TextDocument, delay = DEBOUNCE_MS): void {
    if (!relevant(doc)) return;
    const uri = doc.uri.toString();
    clearTimeout(timers.get(uri));
    timers.set(uri, setTimeout(() => {
      timers.delete(uri);
      update(doc).catch((e) => services.output.appendLine(`[diagnostics] ${(e as Error).message}`));
    }, delay));
  }

  const refreshAll = () => {
    for (const doc of vscode.workspace.textDocuments) schedule(doc, 50);
  };

  const actions: vscode.CodeActionProvider = {
    provideCodeActions(document, _range, ctx) {
      const docFixes = fixes.get(document.uri.toString());
      if (!docFixes || docFixes.version !== document.version) return [];
      const out: vscode.CodeAction[] = [];
      for (const diag of ctx.diagnostics) {
        if (diag.source !== SOURCE) continue;
        const fix = docFixes.byKey.get(keyOf(diag.range, String(typeof diag.code === 'object' ? diag.code.value : diag.code)));
        if (!fix) continue;
        const action = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
        action.diagnostics = [diag];
        action.isPreferred = true;
        action.edit = new vscode.WorkspaceEdit();
        action.edit.replace(document.uri, fix.range, fix.newText);
        out.push(action);
      }
      return out;
    },
  };

  context.subscriptions.push(
    collection,
    vscode.languages.registerCodeActionsProvider(REFERENCE_SELECTOR, actions, {
      providedCodeActionKinds: [vscode.CodeActionKind.QuickFix],
    }),
    vscode.workspace.onDidOpenTextDocument((d) => schedule(d, 50)),
    vscode.workspace.onDidChangeTextDocument((e) => schedule(e.document)),
    vscode.workspace.onDidCloseTextDocument((d) => {
      collection.delete(d.uri);
      fixes.delete(d.uri.toString());
      clearTimeout(timers.get(d.uri.toString()));
    }),
    services.resolver.onDidInvalidate(refreshAll),
    services.events.onEvent(() => refreshAll()),
    services.connection.onDidChangeState(() => refreshAll()),
    { dispose: () => timers.forEach((t) => clearTimeout(t)) },
  );
  refreshAll();
}
