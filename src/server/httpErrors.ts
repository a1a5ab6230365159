import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import type { ErrorBody } from '../core/api.js';
import { isAmphoraError } from '../core/errors.js';

export const BODY_LIMIT_BYTES = 32 * 1024 * 1024;

function body(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** Every failure leaves as ErrorBody with a 4xx for bad input; 500 only for our own bugs. */
export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  if (isAmphoraError(err)) {
    void reply.code(err.status).send(body(err.code, err.message, err.details));
    return;
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = err.validationContext ?? 'request';
    const issues = err.validation
      .slice(0, 10)
      .map((i) => `${i.instancePath.replace(/^\//, '').replace(/\//g, '.') || where}: ${i.message}`)
      .join('; ');
    void reply.code(400).send(body('invalid_request', `Invalid ${where} for ${req.method} ${req.routeOptions.url ?? req.url}: ${issues}. See /api/v1/openapi.json for the expected shape.`));
    return;
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      void reply.code(413).send(body('payload_too_large', `The JSON body is larger than ${BODY_LIMIT_BYTES / 1048576} MiB. Send fewer entries per request (e.g. negotiate blobs in batches of 10,000) — file bytes go to PUT /api/v1/blobs/<digest>, never in JSON.`));
      return;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      void reply.code(415).send(body('unsupported', `Content-Type "${String(req.headers['content-type'] ?? '')}" is not accepted here; send application/json (or application/octet-stream for blob bytes).`));
      return;
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      void reply.code(400).send(body('invalid_request', 'The request says Content-Type application/json but has an empty body; send a JSON object.'));
      return;
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      void reply.code(400).send(body('invalid_request', `The body is not valid JSON (${err.message}); fix the JSON and send it again.`));
      return;
  }
  if (isDatabaseDiskFull(err)) {
    req.log.error({ err }, 'database disk full');
    void reply
      .code(507)
      .send(body('insufficient_storage', `The server's disk is full: its database could not write this change (${err.message}). Nothing was changed. Free space on the server's disk (or ask its administrator to), then send the request again.`));
    return;
  }
  if (isResponseSerializationError(err)) {
    req.log.error({ err, issues: err.cause.issues }, 'response failed its schema');
    void reply.code(500).send(body('internal', 'The server produced a response that does not match its API schema; this is a server bug — please report it with the request that caused it.'));
    return;
  }
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status >= 400 && status < 500) {
    void reply.code(status).send(body(status === 413 ? 'payload_too_large' : 'invalid_request', err.message));
    return;
  }
  req.log.error({ err }, 'unexpected error');
  void reply.code(500).send(body('internal', `Internal server error: ${err.message}. This is a server bug; the request changed nothing that was not committed.`));
}

/**
 * PostgreSQL's disk_full (53100), as PGlite and a PostgreSQL server report it; a statement that
 * failed this way rolled its transaction back, so the request changed nothing.
 */
function isDatabaseDiskFull(err: { code?: unknown; message?: string }): boolean {
  return err.code === '53100' || /No space left on device/.test(err.message ?? '');
}

export function notFoundHandler(req: FastifyRequest, reply: FastifyReply): void {
  void reply
    .code(404)
    .send(body('not_found', `No route ${req.method} ${req.url.split('?')[0]}. The API lives under /api/v1; its routes are listed in /api/v1/openapi.json.`));
}

/** Router-level failures, before routing: a URL that cannot be decoded or a path segment over the limit. */
export function frameworkErrorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const url = String(req.url ?? '').slice(0, 120);
  switch (err.code) {
    case 'FST_ERR_BAD_URL':
      void reply.code(400).send(body('invalid_request', `The URL ${url} is not valid percent-encoded UTF-8; encode each path part with encodeURIComponent.`));
      return;
    case 'FST_ERR_MAX_PARAM_LENGTH':
      void reply.code(414).send(body('invalid_request', `A path part of ${url}… is longer than 512 characters; names are at most 128 characters.`));
      return;
  }
  const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  void reply.code(status).send(body('invalid_request', `The request could not be read (${err.message.slice(0, 200)}); check the URL and headers.`));
}
