/**
 * Every tree node id in one place. Ids must be stable across refreshes (VS Code keeps expansion
 * and selection by id) and unique across both views; `reveal` and the targeted refreshes find
 * nodes by them. Pure (no `vscode`).
 */
export const nodeIds = {
  /** Artifacts view. */
  project: (entity: string, project: string) => `p:${entity}/${project}`,
  artifactType: (entity: string, project: string, type: string) => `p:${entity}/${project}/${type}`,
  collection: (entity: string, project: string, name: string) => `a:${entity}/${project}/${name}`,
  version: (entity: string, project: string, name: string, version: string) => `a:${entity}/${project}/${name}:${version}`,
  /** Runs view. */
  runsProject: (entity: string, project: string) => `rp:${entity}/${project}`,
  jobType: (runsProjectId: string, jobType: string) => `${runsProjectId}/${jobType}`,
  run: (entity: string, project: string, runId: string) => `r:${entity}/${project}/${runId}`,
  edgeGroup: (runId: string, kind: 'inputs' | 'outputs') => `${runId}/${kind}`,
  edgeVersion: (groupId: string, name: string, version: string) => `${groupId}/${name}:${version}`,
  /** Inside a version: files and folders by path (folders end in `/`). */
  file: (parentId: string, name: string) => `${parentId}/${name}`,
  folder: (parentId: string, name: string) => `${parentId}/${name}/`,
  /** Rows that belong to a parent: its "Load more…", a note ("none"), an error. */
  more: (parentId: string) => `${parentId}/more`,
  note: (parentId: string | undefined, what: string) => (parentId ? `${parentId}/${what}` : what),
};
