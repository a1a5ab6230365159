/** Where a link goes: the target path of `link_artifact` / `amphora artifact link` (Python's registries.link_target mirrors it). */
import { AmphoraError } from './errors.js';
import { validateArtifactName, validateEntity, validateProject } from './names.js';

/** A registry's project is named with this prefix, as in W&B. */
export const REGISTRY_PREFIX = 'wandb-registry-';
/**
 * `wandb-registry-model` and `wandb-registry-dataset` exist in every entity from their first link
 * on, as W&B's built-in Models and Datasets registries do.
 */
export const BUILT_IN_REGISTRIES = ['model', 'dataset'] as const;

/** W&B's legacy Model Registry project: its links go to the built-in model registry. */
export const LEGACY_MODEL_REGISTRY = 'model-registry';

/** `[entity/]wandb-registry-NAME/COLLECTION` (or the legacy `model-registry/COLLECTION`) → its parts. */
export function parseLinkTarget(target: string): { entity?: string; project: string; name: string } {
  const parts = String(target).split('/');
  if ((parts.length !== 2 && parts.length !== 3) || parts.some((p) => !p)) {
    throw new AmphoraError('invalid_reference', `Invalid link target ${JSON.stringify(target)}: write it as ${REGISTRY_PREFIX}NAME/COLLECTION (optionally ENTITY/ in front).`);
  }
  if (parts[parts.length - 1].includes(':')) {
    throw new AmphoraError('invalid_reference', `Link target ${JSON.stringify(target)} names a version; give the collection only and pass aliases for the link's aliases.`);
  }
  const project = parts[parts.length - 2] === LEGACY_MODEL_REGISTRY ? `${REGISTRY_PREFIX}model` : parts[parts.length - 2];
  return {
    entity: parts.length === 3 ? validateEntity(parts[0]) : undefined,
    project: validateProject(project),
    name: validateArtifactName(parts[parts.length - 1]),
  };
}
