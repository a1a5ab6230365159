/**
 * The `amphora:` scheme's paths, pure: `/entity/project/name:v3/path/inside/the/version`.
 * The version part may be an alias (`name:latest`); the file system resolves it when read.
 */
import { AmphoraError } from '../../core/errors.js';
import { NAME_PATTERN } from '../../core/names.js';

export const AMPHORA_SCHEME = 'amphora';

export interface AmphoraLocation {
  entity: string;
  project: string;
  name: string;
  /** `vN` or an alias. */
  selector: string;
  /** Path inside the version, `a/b.txt`; empty for the version's root folder. */
  path: string;
}

export function formatAmphoraPath(l: AmphoraLocation): string {
  return `/${l.entity}/${l.project}/${l.name}:${l.selector}${l.path ? '/' + l.path : ''}`;
}

export function parseAmphoraPath(uriPath: string): AmphoraLocation {
  const bad = (why: string): never => {
    throw new AmphoraError('invalid_path', `Not an Amphora file path "${uriPath}": ${why}. Expected amphora:/entity/project/name:v3/path/in/version.`);
  };
  const segs = uriPath.replace(/^\/+/, '').split('/');
  if (segs.length < 3) bad('it needs entity, project and name:version');
  const [entity, project, nameSel, ...rest] = segs;
  const colon = nameSel.indexOf(':');
  if (colon <= 0 || colon === nameSel.length - 1) bad(`"${nameSel}" must be name:version`);
  const name = nameSel.slice(0, colon);
  const selector = nameSel.slice(colon + 1);
  for (const part of [entity, project, name, selector]) if (!NAME_PATTERN.test(part)) bad(`"${part}" is not a valid name`);
  const path = rest.filter((s) => s !== '').join('/');
  if (rest.some((s) => s === '..' || s === '.')) bad('"." and ".." are not allowed');
  return { entity, project, name, selector, path };
}

/** Direct children of `dir` ('' = root) among manifest paths: files and folders, each once. */
export function listDirectory(paths: Iterable<string>, dir: string): Array<{ name: string; kind: 'file' | 'folder' }> {
  const prefix = dir ? dir + '/' : '';
  const out = new Map<string, 'file' | 'folder'>();
  for (const p of paths) {
    if (!p.startsWith(prefix)) continue;
    const rest = p.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash === -1) out.set(rest, out.get(rest) ?? 'file');
    else out.set(rest.slice(0, slash), 'folder');
  }
  return [...out.entries()].map(([name, kind]) => ({ name, kind })).sort((a, b) => (a.kind !== b.kind ? (a.kind === 'folder' ? -1 : 1) : a.name.localeCompare(b.name)));
}

/** Whether `dir` is a folder of the manifest ('' always is). */
export function isDirectory(paths: Iterable<string>, dir: string): boolean {
  if (!dir) return true;
  const prefix = dir + '/';
  for (const p of paths) if (p.startsWith(prefix)) return true;
  return false;
}
