/**
 * CodeLens and hover on artifact reference strings in Python, TypeScript and JavaScript files
 * and in Python cells of Jupyter notebooks.
 * Lenses are placed at once and resolved lazily (`resolveCodeLens`); the resolver's cache is
 * invalidated by server events, which re-asks for lenses so they follow alias moves.
 */
import * as vscode from 'vscode';
import { scanReferences, type FoundReference } from '../logic/references.js';
import { versionMarkdown } from '../logic/format.js';
import { codeSpan, commandLink, escapeMarkdown, escapeMarkdownInline } from '../logic/safeText.js';
import { lineageFocus } from '../logic/lineageFocus.js';
import { versionTarget, type ExtensionServices } from '../services.js';
import { projectSourceOf, REFERENCE_SELECTOR } from './documents.js';
import { ReferenceLenses, type LensSpec } from './lensLogic.js';

class ReferenceLens extends vscode.CodeLens {
  constructor(
    range: vscode.Range,
    readonly document: vscode.TextDocument,
    readonly spec: LensSpec,
  ) {
    super(range);
  }
}

function rangeOf(doc: vscode.TextDocument, f: FoundReference): vscode.Range {
  return new vscode.Range(doc.positionAt(f.start), doc.positionAt(f.end));
}

/** The VS Code side of the lenses; what they say is decided in lensLogic.ts. */
class ReferenceCodeLensProvider implements vscode.CodeLensProvider<ReferenceLens>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  readonly logic: ReferenceLenses;
  constructor(services: ExtensionServices) {
    this.logic = new ReferenceLenses(services.resolver, () => this.changed.fire());
  }
  refresh() {
    this.changed.fire();
  }

  provideCodeLenses(doc: vscode.TextDocument, token: vscode.CancellationToken): ReferenceLens[] {
    if (!vscode.workspace.getConfiguration('amphora', doc).get<boolean>('codeLens.enabled', true)) return [];
    if (token.isCancellationRequested) return [];
    return this.logic.lensesFor(doc.uri.toString(), doc.getText()).map((spec) => new ReferenceLens(rangeOf(doc, spec.found), doc, spec));
  }

  async resolveCodeLens(lens: ReferenceLens, token: vscode.CancellationToken): Promise<ReferenceLens> {
    const command = await this.logic.resolve(lens.document.uri.toString(), lens.spec, projectSourceOf(lens.document));
    if (!token.isCancellationRequested) lens.command = command;
    return lens;
  }

  dispose() {
    this.logic.dispose();
    this.changed.dispose();
  }
}

/** Markdown command link with JSON arguments. */
const link = commandLink;

class ReferenceHoverProvider implements vscode.HoverProvider {
  constructor(private readonly services: ExtensionServices) {}
  async provideHover(doc: vscode.TextDocument, pos: vscode.Position, token: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    const offset = doc.offsetAt(pos);
    const line = doc.lineAt(pos.line);
    // Scan only around the line (a call may wrap, so include the previous line too).
    const from = doc.offsetAt(new vscode.Position(Math.max(0, pos.line - 1), 0));
    const slice = doc.getText(new vscode.Range(doc.positionAt(from), line.range.end));
    const f = scanReferences(slice).find((r) => offset >= from + r.start && offset <= from + r.end);
    if (!f) return undefined;
    const range = new vscode.Range(doc.positionAt(from + f.start), doc.positionAt(from + f.end));
    const r = await this.services.resolver.resolveInSource(f.text, projectSourceOf(doc));
    if (token.isCancellationRequested) return undefined;
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = { enabledCommands: ['amphora.revealReference', 'amphora.showLineage', 'amphora.downloadReference', 'amphora.version.copyReference', 'amphora.version.revealProducerRun', 'amphora.version.editMetadata', 'amphora.openProducerCode'] };
    if (r.kind === 'resolved') {
      const v = r.version;
      const target = versionTarget(v);
      md.appendMarkdown(`${codeSpan(r.refText)} → **${escapeMarkdownInline(v.version)}**\n\n`);
      md.appendMarkdown(
        [
          link('Reveal', 'amphora.revealReference', [target]),
          link('Show Lineage', 'amphora.showLineage', [lineageFocus(v)]),
          link('Download', 'amphora.downloadReference', [target]),
          link('Copy Reference', 'amphora.version.copyReference', [target]),
          link('Edit Metadata', 'amphora.version.editMetadata', [target]),
          ...(v.producerRun ? [link('Reveal Producer Run', 'amphora.version.revealProducerRun', [target])] : []),
          ...(v.producerRun ? [link('Open Producer Code', 'amphora.openProducerCode', [target])] : []),
        ].join(' · '),
      );
      md.appendMarkdown('\n\n---\n\n');
      md.appendMarkdown(versionMarkdown(v));
    } else {
      md.appendMarkdown(`${codeSpan(r.refText)}: ${escapeMarkdown(r.message)}`);
    }
    return new vscode.Hover(md, range);
  }
}

export function registerLanguageFeatures(context: vscode.ExtensionContext, services: ExtensionServices): void {
  const lenses = new ReferenceCodeLensProvider(services);
  context.subscriptions.push(
    lenses,
    vscode.languages.registerCodeLensProvider(REFERENCE_SELECTOR, lenses),
    vscode.languages.registerHoverProvider(REFERENCE_SELECTOR, new ReferenceHoverProvider(services)),
    services.resolver.onDidInvalidate(() => lenses.refresh()),
    vscode.workspace.onDidCloseTextDocument((doc) => lenses.logic.forget(doc.uri.toString())),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('amphora.codeLens.enabled') || e.affectsConfiguration('amphora.project')) lenses.refresh();
    }),
  );
}
