import { z } from 'zod';
import { CreateRegistryRequest, LinkVersionRequest, LinkVersionResponse, Registry, RegistryList, UpdateRegistryRequest } from '../../core/api.js';
import { canRead, hiddenProject } from '../auth/principal.js';
import type { RoutePlugin } from '../context.js';
import { registryName } from '../services/registries.js';
import { CollectionParams, errors, P, ProjectParams } from './common.js';

// A registry's settings live on its project (`wandb-registry-NAME`), so project roles guard them.
const REG = `${P}/projects/:entity/:project/registry`;

export const registryRoutes: RoutePlugin = (app, ctx) => {
  app.get(
    `${P}/registries`,
    { schema: { operationId: 'listRegistries', summary: 'Registries the key may read', querystring: z.object({ entity: z.string().optional() }), response: { 200: RegistryList, ...errors } } },
    async (req) => ({
      items: (await ctx.registries.list(req.query.entity ? [req.query.entity] : undefined)).filter((r) => canRead(req.principal, r.entity, r.project)),
    }),
  );
  app.get(REG, { schema: { operationId: 'getRegistry', summary: 'The registry whose project this is', params: ProjectParams, response: { 200: Registry, ...errors } } }, async (req) =>
    ctx.registries.get(req.params.entity, registryName(req.params.project)),
  );
  app.put(
    REG,
    { schema: { operationId: 'createRegistry', summary: 'Make the project wandb-registry-NAME a registry (409 when it is one)', params: ProjectParams, body: CreateRegistryRequest, response: { 201: Registry, ...errors } } },
    async (req, reply) => reply.code(201).send(await ctx.registries.create(req.params.entity, registryName(req.params.project), req.body, req.principal.user)),
  );
  app.patch(
    REG,
    { schema: { operationId: 'updateRegistry', summary: 'Change visibility, description, tags; add accepted artifact types', params: ProjectParams, body: UpdateRegistryRequest, response: { 200: Registry, ...errors } } },
    async (req) => ctx.registries.update(req.params.entity, registryName(req.params.project), req.body, req.principal.user),
  );
  app.delete(REG, { schema: { operationId: 'deleteRegistry', summary: 'Delete a registry and its links (linked versions stay)', params: ProjectParams, response: { 200: Registry, ...errors } } }, async (req) =>
    ctx.registries.remove(req.params.entity, registryName(req.params.project), req.principal.user),
  );
  app.post(
    `${P}/projects/:entity/:project/artifacts/:name/links`,
    {
      schema: {
        operationId: 'linkArtifact',
        summary: 'Link a logged version into a registry collection (same source again: its link, aliases applied)',
        params: CollectionParams,
        body: LinkVersionRequest,
        response: { 200: LinkVersionResponse, 201: LinkVersionResponse, ...errors },
      },
    },
    async (req, reply) => {
      // The caller must be able to read what they link; an unreadable source looks like a missing one.
      if (!canRead(req.principal, req.body.source.entity, req.body.source.project)) throw hiddenProject();
      const out = await ctx.registries.link(req.params.entity, req.params.project, req.params.name, req.body, req.principal.user);
      return reply.code(out.created ? 201 : 200).send(out);
    },
  );
};
