import { AmphoraError } from './errors.js';

/** Names, types, projects and entities: letters, digits, `_`, `-`, `.`; 1–128 characters. */
export const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;
/** `v0`, `v12`: the shape reserved for version numbers, never a valid alias. */
export const VERSION_PATTERN = /^v(0|[1-9][0-9]*)$/;
/** Aliases may not look like versions at all (`v01` would read as `v1` to a person). */
const VERSION_LIKE = /^v[0-9]+$/;

type NameKind = 'artifact name' | 'artifact type' | 'project' | 'entity' | 'job type' | 'alias';

function describe(value: unknown): string {
  if (typeof value !== 'string') return `a ${typeof value}`;
  if (value.length === 0) return 'an empty string';
  if (value.length > 128) return `a ${value.length}-character string`;
  return JSON.stringify(value);
}

/** A valid example per kind, so the message never suggests an artifact name for a type. */
const EXAMPLE: Record<NameKind, string> = {
  'artifact name': 'mnist-raw',
  'artifact type': 'dataset',
  project: 'artifacts-example',
  entity: 'my-team',
  'job type': 'train',
  alias: 'best',
};

function check(kind: NameKind, value: unknown, code: 'invalid_name' | 'invalid_type' | 'invalid_alias'): string {
  if (typeof value === 'string' && NAME_PATTERN.test(value) && value !== '.' && value !== '..') return value;
  throw new AmphoraError(
    code,
    `Invalid ${kind} ${describe(value)}: use 1–128 letters, digits, "_", "-" or "." (for example "${EXAMPLE[kind]}").`,
  );
}

export function validateArtifactName(name: unknown): string {
  return check('artifact name', name, 'invalid_name');
}
export function validateArtifactType(type: unknown): string {
  return check('artifact type', type, 'invalid_type');
}
export function validateProject(project: unknown): string {
  return check('project', project, 'invalid_name');
}
export function validateEntity(entity: unknown): string {
  return check('entity', entity, 'invalid_name');
}
export function validateJobType(jobType: unknown): string {
  return check('job type', jobType, 'invalid_name');
}

/** Custom aliases: a name, but never `vN` (that would shadow a version number). */
export function validateAlias(alias: unknown): string {
  check('alias', alias, 'invalid_alias');
  if (VERSION_LIKE.test(alias as string)) {
    throw new AmphoraError(
      'invalid_alias',
      `Invalid alias "${alias as string}": names shaped like a version number (v0, v1, …) are reserved; pick another alias such as "best".`,
    );
  }
  return alias as string;
}

export function isVersionString(s: string): boolean {
  return VERSION_PATTERN.test(s);
}
