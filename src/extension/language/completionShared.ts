/**
 * What completion and diagnostics share inside VS Code: the project index cache (invalidated by
 * the server's events) and the project a reference in a document belongs to.
 */
import { paginate } from '../../core/paginate.js';
import { eventProject } from '../../core/api.js';
import type { ArtifactRef } from '../../core/reference.js';
import type { ExtensionServices } from '../services.js';
import { ProjectIndexCache, type ProjectIndex } from './referenceIndex.js';

/** Reference languages the CodeLens knows. */
export const REFERENCE_LANGUAGES = ['python', 'typescript', 'javascript', 'typescriptreact', 'javascriptreact'];
const MAX_COLLECTIONS = 5000;

let shared: ProjectIndexCache | undefined;

export function projectIndexCache(services: ExtensionServices): ProjectIndexCache {
  if (!shared) {
    const cache = new ProjectIndexCache(async (entity, project) => {
      const c = await services.connection.require();
      return paginate((q) => c.http.collections(entity, project, q), { max: MAX_COLLECTIONS });
    });
    shared = cache;
    services.context.subscriptions.push(
      services.events.onEvent((e) => {
        if (e.type === 'run.updated' || e.type === 'run.logged') return; // runs change no collection
        const scope = eventProject(e);
        cache.invalidate(scope.entity, scope.project);
      }),
      services.events.onDidResync(() => cache.clear()),
      services.connection.onDidChangeState(() => cache.clear()),
      { dispose: () => (shared = undefined) },
    );
  }
  return shared;
}

/** The index of the project `ref` (possibly partial: only its qualifiers matter) means in `source`. */
export async function indexFor(services: ExtensionServices, ref: Pick<ArtifactRef, 'entity' | 'project'>, source: string): Promise<ProjectIndex | undefined> {
  if (!services.connection.current) return undefined;
  const full: ArtifactRef = { name: '_', selector: 'latest', isVersion: false, explicitSelector: false, entity: ref.entity, project: ref.project };
  const ctx = await services.resolver.contextFor(full, source);
  if ('problem' in ctx) return undefined;
  try {
    return await projectIndexCache(services).get(ctx.entity, ctx.project);
  } catch {
    return undefined;
  }
}
