import type { RoutePlugin } from '../context.js';
import { P } from './common.js';

export const openapiRoutes: RoutePlugin = (app) => {
  app.get(`${P}/openapi.json`, { schema: { operationId: 'getOpenApiDocument', summary: 'This OpenAPI document', hide: true } }, async (_req, reply) => reply.type('application/json').send(JSON.stringify(app.swagger())));
};
