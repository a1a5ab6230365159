import { z } from 'zod';
import {
  AddRegistryMembersRequest,
  CreateRegistryRequest,
  LinkVersionRequest,
  LinkVersionResponse,
  Registry,
  RegistryList,
  RegistryMember,
  RegistryMemberList,
  RegistryMemberRef,
  UpdateRegistryMemberRequest,
  UpdateRegistryRequest,
} from '../../core/api.js';
import { canRead, hiddenProject } from '../auth/principal.js';
import type { RoutePlugin } from '../context.js';
import { registryName } from '../services/registries.js';
import { RegistryMembers } from '../services/registryMembers.js';
import { CollectionParams, errors, P, ProjectParams } from './common.js';

// A registry's settings live on its project (`wandb-registry-NAME`), so project roles guard them.
const REG = `${P}/projects/:entity/:project/registry`;
const MemberParams = ProjectParams.extend(RegistryMemberRef.shape);

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
  const members = new RegistryMembers(ctx.db, ctx.mode);
  app.get(
    `${REG}/members`,
    { schema: { operationId: 'listRegistryMembers', summary: "The registry's user and team members with their registry roles", params: ProjectParams, response: { 200: RegistryMemberList, ...errors } } },
    async (req) => ({ items: await members.list(req.principal, req.params.entity, req.params.project) }),
  );
  app.post(
    `${REG}/members`,
    {
      schema: {
        operationId: 'addRegistryMembers',
        summary: 'Add users or teams to a registry with a role (default viewer); members already there keep theirs',
        params: ProjectParams,
        body: AddRegistryMembersRequest,
        response: { 200: RegistryMemberList, ...errors },
      },
    },
    async (req) => ({ items: await members.add(req.principal, req.params.entity, req.params.project, req.body.members, req.body.role) }),
  );
  app.patch(
    `${REG}/members/:kind/:name`,
    { schema: { operationId: 'updateRegistryMember', summary: "Change a registry member's role", params: MemberParams, body: UpdateRegistryMemberRequest, response: { 200: RegistryMember, ...errors } } },
    async (req) => members.update(req.principal, req.params.entity, req.params.project, req.params.kind, req.params.name, req.body.role),
  );
  app.delete(
    `${REG}/members/:kind/:name`,
    { schema: { operationId: 'removeRegistryMember', summary: 'Remove a user or team from a registry; answers the removed member', params: MemberParams, response: { 200: RegistryMember, ...errors } } },
    async (req) => members.remove(req.principal, req.params.entity, req.params.project, req.params.kind, req.params.name),
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
