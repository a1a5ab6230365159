import { AmphoraError } from '../../core/errors.js';
import { validateEntity, validateProject } from '../../core/names.js';
import type { Queryable } from '../store/database.js';

/** Creates the project on first write and returns its row id. */
export async function ensureProject(tx: Queryable, entity: string, project: string): Promise<number> {
  validateEntity(entity);
  validateProject(project);
  const rows = await tx.query<{ id: number }>(
    `INSERT INTO projects (entity, name) VALUES ($1, $2)
     ON CONFLICT (entity, name) DO UPDATE SET updated_at = now() RETURNING id`,
    [entity, project],
  );
  return rows[0].id;
}

export async function findProjectId(q: Queryable, entity: string, project: string): Promise<number | undefined> {
  const rows = await q.query<{ id: number }>('SELECT id FROM projects WHERE entity = $1 AND name = $2', [entity, project]);
  return rows[0]?.id;
}

export async function requireProjectId(q: Queryable, entity: string, project: string): Promise<number> {
  const id = await findProjectId(q, entity, project);
  if (id === undefined) {
    throw new AmphoraError('not_found', `There is no project "${entity}/${project}" yet; it appears when a run or an artifact is first logged to it. List projects with GET /api/v1/projects.`);
  }
  return id;
}
