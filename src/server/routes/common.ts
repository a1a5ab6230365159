import { z } from 'zod';
import { ErrorBody } from '../../core/api.js';

/** Path parameters are validated by the core name rules inside the services (better messages). */
export const ProjectParams = z.object({ entity: z.string(), project: z.string() });
export const CollectionParams = ProjectParams.extend({ name: z.string() });
export const VersionParams = CollectionParams.extend({ selector: z.string() });
export const PendingParams = CollectionParams.extend({ distributedId: z.string() });
export const RunParams = ProjectParams.extend({ runId: z.string() });

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.string().max(1024).optional(),
});

/** Error shapes, so the OpenAPI document lists them and replies are checked. */
export const errors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
  422: ErrorBody,
} as const;

/**
 * The 2xx/3xx answers of the byte routes (blob downloads): raw bytes, never serialized (Fastify
 * sends streams as they are). Listed so the document and the handlers' types know those statuses.
 */
export const RawBytes = { description: 'The bytes', content: { 'application/octet-stream': { schema: z.any() } } };
/** The event stream's 200, written by the route itself. */
export const EventStream = { description: 'Server-sent events: `id`, `event` and a JSON `data` line per event', content: { 'text/event-stream': { schema: z.any() } } };

export const P = '/api/v1';

/**
 * Route option for answers of thousands of items built from values the route itself validated
 * (blob negotiation, batch uploads): plain JSON.stringify instead of the zod encode pass, which
 * for 10,000 items cost ~45 ms of server CPU per request. The schema still documents the answer,
 * and every client validates what it receives.
 */
export const plainJsonSerializer = () => (data: unknown) => JSON.stringify(data);
