import { AmphoraError } from './errors.js';
import { NAME_PATTERN, VERSION_PATTERN, validateAlias } from './names.js';

/**
 * A parsed artifact reference: `[entity/][project/]name[:alias | :vN]`.
 * The one parser every surface uses (SDKs, CLI, extension). No suffix means `latest`.
 */
export interface ArtifactRef {
  entity?: string;
  project?: string;
  name: string;
  /** Either `vN` or an alias; defaults to `latest`. */
  selector: string;
  /** True when `selector` is a version number `vN`. */
  isVersion: boolean;
  /** True when the reference string had an explicit `:selector`. */
  explicitSelector: boolean;
}

export function parseReference(input: string): ArtifactRef {
  if (typeof input !== 'string' || input.trim() === '') {
    throw new AmphoraError('invalid_reference', 'Empty artifact reference: write it as [entity/][project/]name[:alias|:vN], for example "mnist-raw:latest".');
  }
  const ref = input.trim();
  const bad = (why: string): never => {
    throw new AmphoraError(
      'invalid_reference',
      `Invalid artifact reference "${ref}": ${why}. Write it as [entity/][project/]name[:alias|:vN], for example "mnist-raw:latest" or "my-team/artifacts-example/mnist-raw:v1".`,
    );
  };
  const colon = ref.indexOf(':');
  const path = colon === -1 ? ref : ref.slice(0, colon);
  const selector = colon === -1 ? 'latest' : ref.slice(colon + 1);
  if (colon !== -1 && selector === '') bad('nothing follows ":"');
  if (selector.includes(':')) bad('it has more than one ":"');
  const parts = path.split('/');
  if (parts.length > 3) bad('it has more than two "/" (at most entity/project/name)');
  for (const p of parts) {
    if (p === '') bad('it has an empty part between "/"');
    if (!NAME_PATTERN.test(p) || p === '.' || p === '..') bad(`"${p.slice(0, 40)}" is not a valid name (letters, digits, "_", "-", "." only, at most 128)`);
  }
  const isVersion = VERSION_PATTERN.test(selector);
  if (!isVersion) {
    try {
      validateAlias(selector);
    } catch {
      bad(`"${selector.slice(0, 40)}" is neither a version (v0, v1, …) nor a valid alias`);
    }
  }
  const name = parts[parts.length - 1];
  const project = parts.length >= 2 ? parts[parts.length - 2] : undefined;
  const entity = parts.length === 3 ? parts[0] : undefined;
  return { entity, project, name, selector, isVersion, explicitSelector: colon !== -1 };
}

/** Canonical text of a reference; omits parts that are undefined. */
export function formatReference(ref: Pick<ArtifactRef, 'entity' | 'project' | 'name' | 'selector'>): string {
  const prefix = [ref.entity, ref.project].filter((x): x is string => !!x).join('/');
  return `${prefix ? prefix + '/' : ''}${ref.name}:${ref.selector}`;
}

/** Index of a `vN` selector, or undefined for an alias. */
export function versionIndex(selector: string): number | undefined {
  return VERSION_PATTERN.test(selector) ? Number(selector.slice(1)) : undefined;
}
