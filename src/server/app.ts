import fastifySwagger from '@fastify/swagger';
import Fastify from 'fastify';
import { Readable } from 'node:stream';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { authHook } from './auth/hook.js';
import { checkRouteHasRule } from './auth/routeAccess.js';
import type { App, ServerContext } from './context.js';
import { BODY_LIMIT_BYTES, errorHandler, frameworkErrorHandler, notFoundHandler } from './httpErrors.js';
import { loopbackHostGuard } from './hostCheck.js';
import { validateManifestPath } from '../core/paths.js';
import { checkJsonDepth, checkStorableStrings } from './inputLimits.js';
import { adminRoutes } from './routes/admin.js';
import { artifactRoutes } from './routes/artifacts.js';
import { blobRoutes } from './routes/blobs.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { lineageRoutes } from './routes/lineage.js';
import { openapiRoutes } from './routes/openapi.js';
import { projectRoutes } from './routes/projects.js';
import { registryRoutes } from './routes/registries.js';
import { resolveRoutes } from './routes/resolve.js';
import { runRoutes } from './routes/runs.js';
import { userRoutes } from './routes/users.js';
import { SERVER_VERSION } from './version.js';

/** Builds the Fastify app: zod-validated routes, one plugin per resource, ErrorBody everywhere. */
export async function buildApp(ctx: ServerContext, opts: { logLevel?: string; quiet?: boolean; host?: string; allowedHosts?: string[] }): Promise<App> {
  const app = Fastify({
    logger: opts.quiet || !opts.logLevel ? false : { level: opts.logLevel },
    bodyLimit: BODY_LIMIT_BYTES,
    // Clients legitimately reuse connections; idle ones are closed on shutdown.
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 512 },
    // Errors the router raises before any route runs (bad percent-encoding, overlong segments)
    // leave as ErrorBody too.
    frameworkErrors: frameworkErrorHandler,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  // A route without an access rule must not ship: refuse to start instead.
  app.addHook('onRoute', (route) => checkRouteHasRule(route.method, route.url));
  const hostGuard = loopbackHostGuard(opts.host ?? '127.0.0.1', opts.allowedHosts);
  if (hostGuard) app.addHook('onRequest', hostGuard);
  app.addHook('onRequest', authHook(ctx.auth, ctx.mode));
  // JSON as usual (prototype poisoning refused), but an empty body with a JSON content type
  // counts as "no body" so GET/DELETE from clients that always send the header still work.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (req, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
    try {
      checkJsonDepth(body as string);
    } catch (e) {
      return done(e as Error, undefined);
    }
    parseJson(req, body as string, done);
  });
  // Before schema validation: strings PostgreSQL cannot hold (NUL, lone surrogates) are bad input.
  app.addHook('preValidation', async (req) => {
    checkStorableStrings('path', req.params);
    checkStorableStrings('query', req.query);
    if (req.body !== null && typeof req.body === 'object' && !(req.body instanceof Readable)) {
      // Manifest keys are artifact paths: their own rule gives the precise message.
      checkStorableStrings('body', req.body, (parent, key) => parent === 'manifest' && validateManifestPath(key));
    }
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Amphora tracking server',
        version: SERVER_VERSION,
        description: 'Versioned artifacts, runs and lineage. Every route but /api/v1/health needs `Authorization: Bearer <api key>`. Team mode: roles viewer/editor/admin per entity or project; a project the key has no role on answers 404.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      // Relative: the document is served by the server it describes, at whatever address the
      // client reached (never built from the request's Host, which a loopback server distrusts).
      servers: [{ url: '/', description: 'The server that serves this document' }],
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
  });

  for (const plugin of [healthRoutes, projectRoutes, artifactRoutes, resolveRoutes, blobRoutes, runRoutes, registryRoutes, lineageRoutes, eventRoutes, adminRoutes, userRoutes, openapiRoutes]) {
    await plugin(app, ctx);
  }
  return app;
}
