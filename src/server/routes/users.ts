import { z } from 'zod';
import {
  AddMemberRequest,
  ApiKeyInfo,
  ApiKeyList,
  CreateKeyRequest,
  CreateKeyResponse,
  CreateTeamRequest,
  CreateUserRequest,
  CreateUserResponse,
  Grant,
  GrantRequest,
  RevokeGrantQuery,
  Team,
  UserList,
} from '../../core/api.js';
import type { RoutePlugin } from '../context.js';
import { errors, P } from './common.js';


/** Users, grants, teams and API keys (team mode; access rules in auth/routeAccess.ts). */
export const userRoutes: RoutePlugin = (app, ctx) => {
  app.get(`${P}/users`, { schema: { operationId: 'listUsers', summary: 'Every user with their grants (site admins)', response: { 200: UserList, ...errors } } }, async () => ({
    items: await ctx.users.listUsers(),
  }));
  app.post(
    `${P}/users`,
    { schema: { operationId: 'createUser', summary: 'Create a user, their personal entity and a first API key, shown once (site admins)', body: CreateUserRequest, response: { 201: CreateUserResponse, ...errors } } },
    async (req, reply) => reply.code(201).send(await ctx.users.createUser(req.principal, req.body.name, req.body.siteAdmin ?? false)),
  );
  app.post(
    `${P}/grants`,
    { schema: { operationId: 'grantRole', summary: 'Give a user a role on an entity or one of its projects (admins of it)', body: GrantRequest, response: { 200: Grant, ...errors } } },
    async (req) => ctx.users.grant(req.principal, req.body),
  );
  app.delete(
    `${P}/grants`,
    { schema: { operationId: 'revokeGrant', summary: 'Take a role on an entity or project away from a user (admins of it); answers the removed grant', querystring: RevokeGrantQuery, response: { 200: Grant, ...errors } } },
    async (req) => ctx.users.revokeGrant(req.principal, req.query),
  );
  app.post(
    `${P}/teams`,
    { schema: { operationId: 'createTeam', summary: 'Create a team entity (site admins)', body: CreateTeamRequest, response: { 201: Team, ...errors } } },
    async (req, reply) => reply.code(201).send(await ctx.users.createTeam(req.principal, req.body.name)),
  );
  app.post(
    `${P}/teams/:team/members`,
    { schema: { operationId: 'addTeamMember', summary: "Add a member or change their role on the whole team (the team's admins)", params: z.object({ team: z.string() }), body: AddMemberRequest, response: { 200: Team, ...errors } } },
    async (req) => ctx.users.addMember(req.principal, req.params.team, req.body.user, req.body.role),
  );
  app.get(
    `${P}/keys`,
    { schema: { operationId: 'listKeys', summary: "The caller's API keys (never the keys themselves); site admins may pass ?user=", querystring: z.object({ user: z.string().optional() }), response: { 200: ApiKeyList, ...errors } } },
    async (req) => ({ items: await ctx.users.listKeys(req.principal, req.query.user) }),
  );
  app.post(
    `${P}/keys`,
    { schema: { operationId: 'createKey', summary: 'Create an API key (shown once), optionally expiring', body: CreateKeyRequest, response: { 201: CreateKeyResponse, ...errors } } },
    async (req, reply) => reply.code(201).send(await ctx.users.createKey(req.principal, req.body)),
  );
  app.delete(
    `${P}/keys/:keyId`,
    { schema: { operationId: 'revokeKey', summary: 'Revoke an API key (yours; site admins: anyone\'s)', params: z.object({ keyId: z.string() }), response: { 200: ApiKeyInfo, ...errors } } },
    async (req) => ctx.users.revokeKey(req.principal, req.params.keyId),
  );
};
