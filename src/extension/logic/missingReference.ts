/**
 * Says precisely what is missing when a reference does not resolve: the artifact itself, or
 * (when the artifact exists) its alias or version. Shared by the CodeLens, the hover and the
 * diagnostics so they all word it the same way. Pure (no `vscode`).
 */
import { isVersionString } from '../../core/names.js';
import { nearest, type CollectionInfo, type ProjectIndex } from './collectionIndex.js';

export type MissingPart = 'artifact' | 'alias' | 'version';

export interface MissingReference {
  part: MissingPart;
  /** One line, lower-case start: "mnist-raw has no alias "best" (aliases: latest, production)". */
  message: string;
  /** The nearest existing name (artifact or alias), when one is close enough to be a typo. */
  guess?: string;
}

const MAX_LISTED_ALIASES = 8;

/** Aliases as a short list, `latest` first, then alphabetical. */
function aliasList(c: CollectionInfo): string {
  const names = [...c.aliases.keys()].sort((a, b) => (a === 'latest' ? -1 : b === 'latest' ? 1 : a.localeCompare(b)));
  const shown = names.slice(0, MAX_LISTED_ALIASES).join(', ');
  return names.length > MAX_LISTED_ALIASES ? `${shown}, …` : shown;
}

const didYouMean = (guess: string | undefined) => (guess ? ` — did you mean "${guess}"?` : '');

export function missingArtifact(name: string, index: ProjectIndex): MissingReference {
  const guess = nearest(name, index.collections.keys());
  return { part: 'artifact', message: `unknown artifact "${name}" in ${index.entity}/${index.project}${didYouMean(guess)}`, guess };
}

export function missingVersion(c: CollectionInfo, version: string): MissingReference {
  return { part: 'version', message: `${c.name} has no version ${version} (${c.latest ? `latest is ${c.latest}` : 'it has no versions yet'})` };
}

export function missingAlias(c: CollectionInfo, alias: string): MissingReference {
  const guess = nearest(alias, c.aliases.keys());
  const known = c.aliases.size ? `aliases: ${aliasList(c)}` : 'it has no versions yet';
  return { part: 'alias', message: `${c.name} has no alias "${alias}" (${known})${didYouMean(guess)}`, guess };
}

/**
 * What is missing for `ref` according to the project's index, or undefined when the index has
 * it all. The index cannot see deleted versions below the newest; `serverSaidNotFound` (the
 * server just answered "not found" for this reference) reports those too.
 */
export function describeMissing(ref: { name: string; selector: string }, index: ProjectIndex, serverSaidNotFound = false): MissingReference | undefined {
  const c = index.collections.get(ref.name);
  if (!c) return missingArtifact(ref.name, index);
  if (isVersionString(ref.selector)) {
    const newest = c.latest ? Number(c.latest.slice(1)) : -1;
    return serverSaidNotFound || Number(ref.selector.slice(1)) > newest ? missingVersion(c, ref.selector) : undefined;
  }
  return c.aliases.has(ref.selector) ? undefined : missingAlias(c, ref.selector);
}
