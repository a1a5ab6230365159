import { AmphoraError } from './errors.js';

// TextEncoder, not Buffer: this module is browser-safe (the webview bundle may import it).
const utf8 = new TextEncoder();

/** No string of this many UTF-16 units or fewer exceeds 1024 bytes of UTF-8 (3 bytes per unit at most). */
const MAX_CHARS_UNDER_LIMIT = Math.floor(1024 / 3);
/**
 * Whatever explainPath could refuse (length aside): a control character or `\`, a leading `/`, a
 * drive letter, or an empty, `.` or `..` segment.
 */
// eslint-disable-next-line no-control-regex
const SUSPECT = /[\u0000-\u001f\u007f\\]|^\/|^[A-Za-z]:|(?:^|\/)\.{0,2}(?:\/|$)/;

/**
 * Validates a logical manifest path: POSIX, relative, no `..` or `.` segments, no leading `/`,
 * no `\`, no NUL or other control characters, no empty segments, at most 1024 bytes.
 */
export function validateManifestPath(p: unknown): string {
  // Every manifest path is checked on each side of every transfer (10,000 per big artifact, often
  // in a cold process): ordinary paths pass one precompiled test, anything else gets the checks below,
  // which name what is wrong.
  if (typeof p === 'string' && p !== '' && p.length <= MAX_CHARS_UNDER_LIMIT && !SUSPECT.test(p)) return p;
  return explainPath(p);
}

function explainPath(p: unknown): string {
  const bad = (why: string): never => {
    const shown = typeof p === 'string' ? JSON.stringify(p.slice(0, 200)) : String(p);
    throw new AmphoraError(
      'invalid_path',
      `Invalid artifact path ${shown}: ${why}. Paths inside an artifact are relative POSIX paths such as "data/train.csv".`,
    );
  };
  if (typeof p !== 'string' || p === '') return bad('it is empty');
  if (utf8.encode(p).length > 1024) bad('it is longer than 1024 bytes');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(p)) bad('it contains a NUL or control character');
  if (p.includes('\\')) bad('it contains "\\" (use "/" to separate folders)');
  if (p.startsWith('/')) bad('it is absolute (starts with "/")');
  if (/^[A-Za-z]:/.test(p)) bad('it starts with a drive letter');
  for (const seg of p.split('/')) {
    if (seg === '') bad('it has an empty segment ("//" or a trailing "/")');
    if (seg === '..') bad('it contains ".." (it would escape the artifact)');
    if (seg === '.') bad('it contains a "." segment');
  }
  return p;
}

/**
 * Throws when some path is both a file and a folder (`a` and `a/b`). Also rejects duplicates
 * that differ only by being listed twice. `paths` need not be sorted.
 */
export function checkPathCollisions(paths: Iterable<string>): void {
  const files = new Set<string>();
  for (const p of paths) {
    if (files.has(p)) throw new AmphoraError('invalid_path', `Artifact path "${p}" is listed twice; each path may appear once.`);
    files.add(p);
  }
  for (const p of files) {
    let i = p.indexOf('/');
    while (i !== -1) {
      const folder = p.slice(0, i);
      if (files.has(folder)) {
        throw new AmphoraError(
          'invalid_path',
          `Artifact path "${folder}" is both a file and a folder (because of "${p}"); rename one of them.`,
        );
      }
      i = p.indexOf('/', i + 1);
    }
  }
}

/**
 * Joins a validated logical path onto a root folder and proves the result stays inside it.
 * `sep` and `resolve` come from the caller's `path` module so this stays platform-neutral.
 */
export function joinInside(root: string, logical: string, pathMod: { resolve: (...p: string[]) => string; sep: string }): string {
  validateManifestPath(logical);
  const base = pathMod.resolve(root);
  // A path that passed the quick test has no `.`, `..` or empty segment and no `\`: on POSIX,
  // joining is concatenation (a download joins 10,000 of these).
  if (pathMod.sep === '/' && !SUSPECT.test(logical)) return base === '/' ? `/${logical}` : `${base}/${logical}`;
  const full = pathMod.resolve(base, ...logical.split('/'));
  if (full !== base && !full.startsWith(base.endsWith(pathMod.sep) ? base : base + pathMod.sep)) {
    throw new AmphoraError('invalid_path', `Artifact path "${logical}" would be written outside "${base}"; refusing.`);
  }
  return full;
}
