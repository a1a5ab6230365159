import { z } from 'zod';
import {
  ArtifactCollection,
  CollectionList,
  CommitVersionRequest,
  CommitVersionResponse,
  DeleteVersionResponse,
  FinishPendingRequest,
  ManifestResponse,
  PendingVersion,
  RelogVersionRequest,
  RunRefList,
  UpdateVersionRequest,
  UpsertPendingRequest,
  ArtifactVersion,
  VersionList,
} from '../../core/api.js';
import type { RoutePlugin } from '../context.js';
import { canRead } from '../auth/principal.js';
import { manifestBlobs, requireReadableBlobs } from './blobGuard.js';
import { CollectionParams, errors, P, PageQuery, PendingParams, ProjectParams, VersionParams } from './common.js';

const BASE = `${P}/projects/:entity/:project/artifacts`;

export const artifactRoutes: RoutePlugin = (app, ctx) => {
  app.get(
    BASE,
    { schema: { operationId: 'listCollections', summary: 'Artifact collections of a project (paged, by name)', params: ProjectParams, querystring: PageQuery.extend({ type: z.string().optional() }), response: { 200: CollectionList, ...errors } } },
    async (req) => ctx.artifacts.listCollections(req.params.entity, req.params.project, req.query),
  );
  app.get(`${BASE}/:name`, { schema: { operationId: 'getCollection', summary: 'An artifact collection: type, description, version count, latest version and aliases', params: CollectionParams, response: { 200: ArtifactCollection, ...errors } } }, async (req) =>
    ctx.artifacts.getCollection(req.params.entity, req.params.project, req.params.name),
  );
  app.get(
    `${BASE}/:name/versions`,
    { schema: { operationId: 'listVersions', summary: 'Committed versions, newest first (paged)', params: CollectionParams, querystring: PageQuery, response: { 200: VersionList, ...errors } } },
    async (req) => ctx.artifacts.listVersions(req.params.entity, req.params.project, req.params.name, req.query.limit, req.query.cursor),
  );
  app.post(
    `${BASE}/:name/versions`,
    {
      schema: {
        operationId: 'commitVersion',
        summary: 'Commit a version in one transaction (dedup by digest, next vN, latest + aliases, output edge)',
        params: CollectionParams,
        body: CommitVersionRequest,
        response: { 200: CommitVersionResponse, 201: CommitVersionResponse, ...errors },
      },
    },
    async (req, reply) => {
      await requireReadableBlobs(ctx.db, req.principal, manifestBlobs(req.body.manifest));
      const out = await ctx.artifacts.commit(req.params.entity, req.params.project, req.params.name, req.body, req.principal.user);
      return reply.code(out.created ? 201 : 200).send(out);
    },
  );
  app.post(
    `${BASE}/:name/relog`,
    {
      schema: {
        operationId: 'relogVersion',
        summary: 'Log content again that a committed version holds, named by its digest instead of its manifest (404: commit the manifest)',
        params: CollectionParams,
        body: RelogVersionRequest,
        response: { 200: CommitVersionResponse, ...errors },
      },
    },
    async (req) => ctx.artifacts.relog(req.params.entity, req.params.project, req.params.name, req.body, req.principal.user),
  );
  app.get(`${BASE}/:name/versions/:selector`, { schema: { operationId: 'getVersion', summary: 'A version by vN or alias', params: VersionParams, response: { 200: ArtifactVersion, ...errors } } }, async (req) =>
    ctx.artifacts.resolve(req.params.entity, req.params.project, req.params.name, req.params.selector),
  );
  app.get(`${BASE}/:name/versions/:selector/manifest`, { schema: { operationId: 'getManifest', summary: 'The manifest of a version: every path with its digest and size', params: VersionParams, response: { 200: ManifestResponse, ...errors } } }, async (req) =>
    ctx.artifacts.manifest(req.params.entity, req.params.project, req.params.name, req.params.selector),
  );
  app.get(`${BASE}/:name/versions/:selector/consumers`, { schema: { operationId: 'listConsumers', summary: 'Runs that use this version', params: VersionParams, response: { 200: RunRefList, ...errors } } }, async (req) => ({
    // Consumers may sit in other projects: only those the caller may read are listed.
    items: (await ctx.artifacts.consumers(req.params.entity, req.params.project, req.params.name, req.params.selector)).filter((r) => canRead(req.principal, r.entity, r.project)),
  }));
  app.patch(
    `${BASE}/:name/versions/:selector`,
    { schema: { operationId: 'updateVersion', summary: 'Edit description, metadata, aliases (never the manifest)', params: VersionParams, body: UpdateVersionRequest, response: { 200: ArtifactVersion, ...errors } } },
    async (req) => ctx.artifacts.update(req.params.entity, req.params.project, req.params.name, req.params.selector, req.body, req.principal.user),
  );
  app.delete(
    `${BASE}/:name/versions/:selector`,
    {
      schema: {
        operationId: 'deleteVersion',
        summary: 'Soft-delete a version (refused while it has aliases unless deleteAliases=true)',
        params: VersionParams,
        querystring: z.object({ deleteAliases: z.enum(['true', 'false', '1', '0']).optional() }),
        response: { 200: DeleteVersionResponse, ...errors },
      },
    },
    async (req) => ({
      version: await ctx.artifacts.remove(req.params.entity, req.params.project, req.params.name, req.params.selector, ['true', '1'].includes(req.query.deleteAliases ?? ''), req.principal.user),
    }),
  );
  app.post(
    `${BASE}/:name/pending/:distributedId`,
    { schema: { operationId: 'upsertPending', summary: 'Upsert files into a distributed (pending) version', params: PendingParams, body: UpsertPendingRequest, response: { 200: PendingVersion, ...errors } } },
    async (req) => {
      await requireReadableBlobs(ctx.db, req.principal, manifestBlobs(req.body.manifest));
      return ctx.artifacts.upsertPending(req.params.entity, req.params.project, req.params.name, req.params.distributedId, req.body, req.principal.user);
    },
  );
  app.post(
    `${BASE}/:name/pending/:distributedId/finish`,
    { schema: { operationId: 'finishPending', summary: 'Commit a distributed version', params: PendingParams, body: FinishPendingRequest, response: { 200: CommitVersionResponse, 201: CommitVersionResponse, ...errors } } },
    async (req, reply) => {
      const out = await ctx.artifacts.finishPending(req.params.entity, req.params.project, req.params.name, req.params.distributedId, req.body, req.principal.user);
      return reply.code(out.created ? 201 : 200).send(out);
    },
  );
};
