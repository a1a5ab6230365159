/**
 * CodeLens and hover on artifact reference strings in Python, TypeScript and JavaScript files
 * and in Python cells of Jupyter notebooks.
 * Lenses are placed at once and resolved lazily (`resolveCodeLens`); the resolver's cache is
 * invalidated by server events, which re-asks for lenses so they follow alias moves.
 */
import * as vscode from 'vscode';
import { scanReferences, type FoundReference } from '../logic/references.js';
import { lensTitle, versionMarkdown } from '../logic/format.js';
import { codeSpan, commandLink, escapeMarkdown, escapeMarkdownInline } from '../logic/safeText.js';
import { lineageFocus } from '../logic/lineageFocus.js';
import type { Resolution } from '../logic/resolver.js';
import { versionTarget, type ExtensionServices } from '../services.js';
import { projectSourceOf, REFERENCE_SELECTOR } from './documents.js';

class ReferenceLens extends vscode.CodeLens {
  constructor(
    range: vscode.Range,
    readonly document: vscode.TextDocument,
    readonly found: FoundReference,
    readonly role: 'summary' | 'reveal' | 'lineage' | 'download',
  ) {
    super(range);
  }
}

function rangeOf(doc: vscode.TextDocument, f: FoundReference): vscode.Range {
  return new vscode.Range(doc.positionAt(f.start), doc.positionAt(f.end));
}

class ReferenceCodeLensProvider implements vscode.CodeLensProvider<ReferenceLens> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  /**
   * What each reference resolved to last time: Reveal/Download lenses are offered only for
   * references that resolved (a lens cannot be dropped once provided, only titled).
   */
  private readonly lastKind = new Map<string, Resolution['kind']>();
  private timer?: NodeJS.Timeout;
  constructor(private readonly services: ExtensionServices) {}
  refresh() {
    this.changed.fire();
  }
  forget(doc: vscode.TextDocument) {
    const prefix = `${doc.uri.toString()}#`;
    for (const k of [...this.lastKind.keys()]) if (k.startsWith(prefix)) this.lastKind.delete(k);
  }
  private key(doc: vscode.TextDocument, f: FoundReference) {
    return `${doc.uri.toString()}#${f.text}`;
  }

  provideCodeLenses(doc: vscode.TextDocument, token: vscode.CancellationToken): ReferenceLens[] {
    if (!vscode.workspace.getConfiguration('amphora', doc).get<boolean>('codeLens.enabled', true)) return [];
    const lenses: ReferenceLens[] = [];
    for (const f of scanReferences(doc.getText())) {
      if (token.isCancellationRequested) return [];
      const range = rangeOf(doc, f);
      lenses.push(new ReferenceLens(range, doc, f, 'summary'));
      if (f.parsed && this.lastKind.get(this.key(doc, f)) === 'resolved') {
        for (const role of ['reveal', 'lineage', 'download'] as const) lenses.push(new ReferenceLens(range, doc, f, role));
      }
    }
    return lenses;
  }

  async resolveCodeLens(lens: ReferenceLens, token: vscode.CancellationToken): Promise<ReferenceLens> {
    const r = await this.services.resolver.resolveInSource(lens.found.text, projectSourceOf(lens.document));
    if (token.isCancellationRequested) return lens;
    lens.command = commandFor(lens.role, r);
    const key = this.key(lens.document, lens.found);
    if (lens.role === 'summary' && this.lastKind.get(key) !== r.kind) {
      // Resolved for the first time (or no longer): ask again so the action lenses match.
      this.lastKind.set(key, r.kind);
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.changed.fire();
      }, 50);
    }
    return lens;
  }
}

function commandFor(role: ReferenceLens['role'], r: Resolution): vscode.Command {
  if (role === 'summary') {
    if (r.kind === 'resolved') return { title: lensTitle(r.refText, r.version), command: 'amphora.revealReference', arguments: [versionTarget(r.version)], tooltip: `Reveal ${r.fullRef} in the Amphora view` };
    return { title: `${r.refText} → ${r.message}`, command: '' };
  }
  if (r.kind !== 'resolved') return { title: '', command: '' };
  // The version the lens resolved travels with the click: nothing is parsed or resolved again.
  if (role === 'reveal') return { title: 'Reveal', command: 'amphora.revealReference', arguments: [versionTarget(r.version)] };
  if (role === 'lineage') return { title: 'Lineage', command: 'amphora.showLineage', arguments: [lineageFocus(r.version)], tooltip: `Show the lineage around ${r.fullRef}` };
  return { title: 'Download', command: 'amphora.downloadReference', arguments: [versionTarget(r.version)] };
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
    md.isTrusted = { enabledCommands: ['amphora.revealReference', 'amphora.showLineage', 'amphora.downloadReference', 'amphora.version.copyReference', 'amphora.version.revealProducerRun', 'amphora.version.editMetadata'] };
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
    vscode.languages.registerCodeLensProvider(REFERENCE_SELECTOR, lenses),
    vscode.languages.registerHoverProvider(REFERENCE_SELECTOR, new ReferenceHoverProvider(services)),
    services.resolver.onDidInvalidate(() => lenses.refresh()),
    vscode.workspace.onDidCloseTextDocument((doc) => lenses.forget(doc)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('amphora.codeLens.enabled') || e.affectsConfiguration('amphora.project')) lenses.refresh();
    }),
  );
}
