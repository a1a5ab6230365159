/**
 * Diagnostics for artifact reference strings, pure: an unknown artifact, alias or version is a
 * warning with a quick fix to the nearest existing name; a moving alias (`latest`, `best`…)
 * is an information hint with the quick fix "Pin to vN" (the version it resolves to now), so a
 * script keeps reading the same data when new versions are logged. Offsets are document offsets.
 */
import type { FoundReference } from '../logic/references.js';
import { describeMissing } from '../logic/missingReference.js';
import type { ProjectIndex } from '../logic/collectionIndex.js';

export type RefDiagnosticCode = 'invalid-reference' | 'unknown-artifact' | 'unknown-alias' | 'unknown-version' | 'moving-alias';

export interface RefFix {
  title: string;
  start: number;
  end: number;
  newText: string;
}

export interface RefDiagnostic {
  severity: 'warning' | 'information';
  code: RefDiagnosticCode;
  message: string;
  start: number;
  end: number;
  fix?: RefFix;
}

/** Where the name and the selector sit inside a reference's text (offsets within the text). */
export function referenceParts(text: string): { nameStart: number; nameEnd: number; colon: number; selectorStart: number; selectorEnd: number } {
  const colon = text.indexOf(':');
  const nameEnd = colon === -1 ? text.length : colon;
  const nameStart = text.lastIndexOf('/', nameEnd - 1) + 1;
  return { nameStart, nameEnd, colon, selectorStart: colon === -1 ? text.length : colon + 1, selectorEnd: text.length };
}

/**
 * Diagnoses one reference found in a document. `index` is what the server knows about the
 * project the reference resolves in (undefined when unknown: nothing is reported then, since
 * "not connected" is not the file's fault).
 */
export function diagnoseReference(found: FoundReference, index: ProjectIndex | undefined): RefDiagnostic[] {
  if (found.error) {
    return [{ severity: 'warning', code: 'invalid-reference', message: found.error, start: found.start, end: found.end }];
  }
  const ref = found.parsed;
  if (!ref || !index) return [];
  const p = referenceParts(found.text);
  const at = (o: number) => found.start + o;
  const missing = describeMissing(ref, index);
  if (missing) {
    // The name is wrong for a missing artifact; otherwise the selector is.
    const [from, to] = missing.part === 'artifact' ? [p.nameStart, p.nameEnd] : [p.selectorStart, p.selectorEnd];
    const c = index.collections.get(ref.name);
    const replacement = missing.guess ?? (missing.part === 'version' ? c?.latest : undefined);
    const hint = missing.part === 'artifact' && !missing.guess ? ' Log it first, or check the project.' : '';
    return [{
      severity: 'warning',
      code: `unknown-${missing.part}`,
      message: `${missing.message}${missing.message.endsWith('?') ? '' : '.'}${hint}`,
      start: at(from),
      end: at(to),
      fix: replacement ? { title: /^v\d+$/.test(replacement) ? `Change to ${replacement}` : `Change to "${replacement}"`, start: at(from), end: at(to), newText: replacement } : undefined,
    }];
  }
  const resolved = index.collections.get(ref.name)!.aliases.get(ref.selector);
  if (resolved === undefined) return []; // an existing version number: nothing to say
  // A moving alias: pin it. Without an explicit selector (`"mnist-raw"` means latest) append one.
  const fix: RefFix = ref.explicitSelector
    ? { title: `Pin to ${resolved}`, start: at(p.selectorStart), end: at(p.selectorEnd), newText: resolved }
    : { title: `Pin to ${resolved}`, start: at(p.nameEnd), end: at(p.nameEnd), newText: `:${resolved}` };
  return [{
    severity: 'information',
    code: 'moving-alias',
    message: `"${ref.selector}" is a moving alias: it resolves to ${resolved} now and moves when a new version gets it. Pin to ${resolved} to make this reproducible.`,
    start: ref.explicitSelector ? at(p.selectorStart) : at(p.nameStart),
    end: ref.explicitSelector ? at(p.selectorEnd) : at(p.nameEnd),
    fix,
  }];
}
