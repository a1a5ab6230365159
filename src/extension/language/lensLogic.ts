/**
 * What the reference CodeLenses show, without `vscode`: a summary lens per reference, placed at
 * once and titled when resolved, plus Reveal / Lineage / Download / Producer Code lenses for references that
 * resolved last time (a lens cannot be removed once provided, only re-titled, so the action
 * lenses appear after a first resolution and a re-ask). Clicks carry the resolved version, so a
 * command never parses or resolves the reference text again.
 */
import { lensTitle } from '../logic/format.js';
import { lineageFocus } from '../logic/lineageFocus.js';
import { scanReferences, type FoundReference } from '../logic/references.js';
import type { ReferenceResolver, Resolution } from '../logic/resolver.js';
import { versionTarget } from '../services.js';

export type LensRole = 'summary' | 'reveal' | 'lineage' | 'download' | 'code';
export interface LensSpec {
  found: FoundReference;
  role: LensRole;
}
export interface LensCommand {
  title: string;
  /** Empty: a title only (nothing to run). */
  command: string;
  arguments?: unknown[];
  tooltip?: string;
}

/** Lens re-asks after resolutions are batched this long (a file with many references resolves at once). */
const REASK_MS = 50;

export class ReferenceLenses {
  /** What each reference (document + text) resolved to last time. */
  private readonly lastKind = new Map<string, Resolution['kind']>();
  private timer?: NodeJS.Timeout;

  /** `reask`: the lenses of open documents should be provided again (action lenses changed). */
  constructor(
    private readonly resolver: Pick<ReferenceResolver, 'resolveInSource'>,
    private readonly reask: () => void,
  ) {}

  private key(doc: string, f: FoundReference) {
    return `${doc}#${f.text}`;
  }

  /** The lenses of a document (`doc`: its URI) with text `text`, before any resolution. */
  lensesFor(doc: string, text: string): LensSpec[] {
    const lenses: LensSpec[] = [];
    for (const found of scanReferences(text)) {
      lenses.push({ found, role: 'summary' });
      if (found.parsed && this.lastKind.get(this.key(doc, found)) === 'resolved') {
        for (const role of ['reveal', 'lineage', 'download', 'code'] as const) lenses.push({ found, role });
      }
    }
    return lenses;
  }

  /** Resolves a lens; `projectSource` is the text whose `init(project=…)` decides the project. */
  async resolve(doc: string, lens: LensSpec, projectSource: string): Promise<LensCommand> {
    const r = await this.resolver.resolveInSource(lens.found.text, projectSource);
    const key = this.key(doc, lens.found);
    if (lens.role === 'summary' && this.lastKind.get(key) !== r.kind) {
      // Resolved for the first time (or no longer): ask again so the action lenses match.
      this.lastKind.set(key, r.kind);
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.reask();
      }, REASK_MS);
    }
    return lensCommand(lens.role, r);
  }

  forget(doc: string): void {
    const prefix = `${doc}#`;
    for (const k of [...this.lastKind.keys()]) if (k.startsWith(prefix)) this.lastKind.delete(k);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}

export function lensCommand(role: LensRole, r: Resolution): LensCommand {
  if (role === 'summary') {
    if (r.kind === 'resolved') return { title: lensTitle(r.refText, r.version), command: 'amphora.revealReference', arguments: [versionTarget(r.version)], tooltip: `Reveal ${r.fullRef} in the Amphora view` };
    return { title: `${r.refText} → ${r.message}`, command: '' };
  }
  if (r.kind !== 'resolved') return { title: '', command: '' };
  if (role === 'reveal') return { title: 'Reveal', command: 'amphora.revealReference', arguments: [versionTarget(r.version)] };
  if (role === 'lineage') return { title: 'Lineage', command: 'amphora.showLineage', arguments: [lineageFocus(r.version)], tooltip: `Show the lineage around ${r.fullRef}` };
  if (role === 'code') {
    // Only versions a run produced have code to open.
    if (!r.version.producerRun) return { title: '', command: '' };
    return { title: 'Producer Code', command: 'amphora.openProducerCode', arguments: [versionTarget(r.version)], tooltip: `Open the code that logged ${r.fullRef}` };
  }
  return { title: 'Download', command: 'amphora.downloadReference', arguments: [versionTarget(r.version)] };
}
