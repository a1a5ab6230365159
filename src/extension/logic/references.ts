/**
 * Finds artifact reference strings in Python, TypeScript and JavaScript source:
 * `use_artifact("…")`, `useArtifact('…')`, `api.artifact("…")`, `Api().artifact("…")`,
 * `wandb.Api().artifact(…)` (any `.artifact(` call), with an optional keyword argument name.
 * Offsets point at the text inside the quotes, so editors can map them to ranges.
 */
import { parseReference, type ArtifactRef } from '../../core/reference.js';

export interface FoundReference {
  /** The text inside the quotes. */
  text: string;
  /** Offset of the first character inside the quotes. */
  start: number;
  /** Offset just after the last character inside the quotes. */
  end: number;
  /** Which call it was found in (`use_artifact`, `useArtifact`, `artifact`). */
  call: string;
  /** The parsed reference, or the parse error message when the text is not a valid reference. */
  parsed?: ArtifactRef;
  error?: string;
}

const CALL = String.raw`(?:\b(use_artifact|useArtifact)|\.(artifact))\s*\(\s*(?:[A-Za-z_]\w*\s*=\s*)?`;
const STRING = String.raw`([rRbBuUfF]{0,2})(["'\x60])((?:(?!\4)[^\\\n]|\\.)*)\4`;
const PATTERN = new RegExp(CALL + STRING, 'g');

export function scanReferences(source: string): FoundReference[] {
  const out: FoundReference[] = [];
  PATTERN.lastIndex = 0;
  for (let m = PATTERN.exec(source); m; m = PATTERN.exec(source)) {
    const [, named, dotted, prefix, quote, body] = m;
    // f-strings and template literals with substitutions are not static references.
    if (/[fF]/.test(prefix) || (quote === '`' && body.includes('${'))) continue;
    const start = m.index + m[0].length - 1 - body.length;
    const found: FoundReference = { text: body, start, end: start + body.length, call: named ?? dotted };
    try {
      found.parsed = parseReference(body);
    } catch (e) {
      found.error = (e as Error).message;
    }
    out.push(found);
  }
  return out;
}

/** The reference whose string contains `offset` (inclusive of the closing edge), if any. */
export function referenceAt(source: string, offset: number): FoundReference | undefined {
  return scanReferences(source).find((r) => offset >= r.start && offset <= r.end);
}

/** Line/character of an offset (0-based), for callers outside VS Code. */
export function positionOf(source: string, offset: number): { line: number; character: number } {
  let line = 0;
  let lineStart = 0;
  for (let i = source.indexOf('\n'); i !== -1 && i < offset; i = source.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, character: offset - lineStart };
}
