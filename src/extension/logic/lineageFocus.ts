/**
 * The argument `amphora.showLineage` takes to focus one version: small and JSON-safe, so it fits
 * a CodeLens command and a hover's command link alike. Pure (no `vscode`).
 */
import type { ArtifactVersion } from '../../core/api.js';
import { artifactNodeId } from '../../core/lineage.js';

export interface LineageFocus {
  entity: string;
  project: string;
  /** The graph node id of the version: `artifact:<version id>`. */
  nodeId: string;
}

export function lineageFocus(v: Pick<ArtifactVersion, 'entity' | 'project' | 'id'>): LineageFocus {
  return { entity: v.entity, project: v.project, nodeId: artifactNodeId(v.id) };
}
