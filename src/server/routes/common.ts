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

export const P = '/api/v1';
