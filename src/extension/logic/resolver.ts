/**
 * Resolves reference strings found in source files to versions, with a cache that server events
 * invalidate per collection (so lenses move when an alias moves). No `vscode` here: the CodeLens,
 * hover, completion and diagnostics providers all share one instance through the services.
 */
import type { ArtifactVersion } from '../../core/api.js';
import { isAmphoraError } from '../../core/errors.js';
import { formatReference, parseReference, type ArtifactRef } from '../../core/reference.js';
import type { ProjectIndex } from './collectionIndex.js';
import { describeMissing, type MissingPart } from './missingReference.js';
import { chooseProject, projectFromSource, projectProblem } from './project.js';

export interface ResolverBackend {
  resolve(ref: string): Promise<ArtifactVersion>;
  projects(): Promise<{ entity: string; name: string }[]>;
  /** The API key's entity (the default for references without one). */
  entity(): Promise<string>;
  /** The project's artifacts (with aliases and latest), to say what exactly is missing. */
  projectIndex?(entity: string, project: string): Promise<ProjectIndex>;
}

export type Resolution =
  | { kind: 'resolved'; refText: string; ref: ArtifactRef; fullRef: string; version: ArtifactVersion }
  /** `missing`: the artifact, or (it exists) its alias or version; `message` says which, precisely. */
  | { kind: 'unknown'; refText: string; ref?: ArtifactRef; fullRef?: string; missing?: MissingPart; message: string }
  | { kind: 'problem'; refText: string; message: string };

export class ReferenceResolver {
  private readonly cache = new Map<string, Promise<Resolution>>();
  /** Keys whose answer was "unknown": any new version anywhere may make them known. */
  private readonly unknownKeys = new Set<string>();
  private projectsCache?: Promise<{ entity: string; name: string }[]>;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly backend: () => ResolverBackend | undefined,
    private readonly settingProject: () => string | undefined,
  ) {}

  /** Called after any invalidation, so editors can re-ask for lenses and diagnostics. */
  onDidInvalidate(listener: () => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Forgets everything (reconnect, settings change). */
  clear(): void {
    this.cache.clear();
    this.unknownKeys.clear();
    this.projectsCache = undefined;
    this.fire();
  }

  /** Forgets what concerns one collection; a new project also resets the project list. */
  invalidateCollection(entity: string, project: string, name: string): void {
    const prefix = `${entity}/${project}/${name}:`;
    for (const k of [...this.cache.keys()]) if (k.startsWith(prefix)) this.cache.delete(k);
    // Unknown references may have become known, and project inference depends on the project list.
    for (const k of this.unknownKeys) this.cache.delete(k);
    this.unknownKeys.clear();
    this.projectsCache = undefined;
    this.fire();
  }

  private fire() {
    for (const l of this.listeners) {
      try {
        l();
      } catch {
        /* a listener's failure must not stop the others */
      }
    }
  }

  async projects(): Promise<{ entity: string; name: string }[]> {
    const b = this.backend();
    if (!b) return [];
    if (!this.projectsCache) {
      this.projectsCache = b.projects().catch((e) => {
        this.projectsCache = undefined;
        throw e;
      });
    }
    return this.projectsCache;
  }

  /** Which project and entity an unqualified reference in `source` means. */
  async contextFor(ref: ArtifactRef, source: string): Promise<{ entity: string; project: string } | { problem: string }> {
    const b = this.backend();
    if (!b) return { problem: 'not connected to an Amphora server' };
    const projects = ref.project ? [] : await this.projects();
    const choice = chooseProject({
      fromReference: ref.project,
      fromFile: projectFromSource(source),
      fromSetting: this.settingProject(),
      projects: [...new Set(projects.map((p) => p.name))],
    });
    if (choice.kind !== 'project') return { problem: projectProblem(choice, formatReference(ref))! };
    const entity = ref.entity ?? projects.find((p) => p.name === choice.project)?.entity ?? (await b.entity());
    return { entity, project: choice.project };
  }

  /** Resolves the reference text as written in a file whose full text is `source`. */
  async resolveInSource(refText: string, source: string): Promise<Resolution> {
    let ref: ArtifactRef;
    try {
      ref = parseReference(refText);
    } catch (e) {
      return { kind: 'problem', refText, message: (e as Error).message };
    }
    let ctx: Awaited<ReturnType<ReferenceResolver['contextFor']>>;
    try {
      ctx = await this.contextFor(ref, source);
    } catch (e) {
      return { kind: 'problem', refText, message: (e as Error).message };
    }
    if ('problem' in ctx) return { kind: 'problem', refText, message: ctx.problem };
    const fullRef = formatReference({ entity: ctx.entity, project: ctx.project, name: ref.name, selector: ref.selector });
    const key = fullRef;
    let pending = this.cache.get(key);
    if (!pending) {
      pending = this.fetch(refText, ref, fullRef, ctx);
      this.cache.set(key, pending);
    }
    const r = await pending;
    // Keep the caller's own text (two spellings may share one cache entry).
    return { ...r, refText } as Resolution;
  }

  private async fetch(refText: string, ref: ArtifactRef, fullRef: string, ctx: { entity: string; project: string }): Promise<Resolution> {
    const b = this.backend();
    if (!b) return { kind: 'problem', refText, message: 'not connected to an Amphora server' };
    try {
      const version = await b.resolve(fullRef);
      return { kind: 'resolved', refText, ref, fullRef, version };
    } catch (e) {
      if (isAmphoraError(e) && e.code === 'not_found') {
        this.unknownKeys.add(fullRef);
        return { kind: 'unknown', refText, ref, fullRef, ...(await this.explainNotFound(b, ref, ctx, fullRef)) };
      }
      this.cache.delete(fullRef);
      return { kind: 'problem', refText, message: (e as Error).message };
    }
  }

  /** Whether the artifact or only its alias/version is missing (a generic line if the list fails). */
  private async explainNotFound(b: ResolverBackend, ref: ArtifactRef, ctx: { entity: string; project: string }, fullRef: string): Promise<{ missing?: MissingPart; message: string }> {
    const generic = { message: `${fullRef} not found` };
    if (!b.projectIndex) return generic;
    try {
      const index = await b.projectIndex(ctx.entity, ctx.project);
      const m = describeMissing(ref, index, true);
      return m ? { missing: m.part, message: m.message } : generic;
    } catch (e) {
      // A project that does not exist has no artifacts at all.
      if (isAmphoraError(e) && e.code === 'not_found') return { missing: 'artifact', message: `unknown artifact "${ref.name}" in ${ctx.entity}/${ctx.project}` };
      return generic;
    }
  }
}
