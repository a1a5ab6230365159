import { Readable } from 'node:stream';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NegotiateRequest, NegotiateResponse, PutBlobResponse, routes } from '../../core/api.js';
import { AmphoraError } from '../../core/errors.js';
import type { RoutePlugin } from '../context.js';
import { errors, P } from './common.js';

const DigestParams = z.object({ digest: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters of SHA-256') });
/** Re-touch present blobs older than this on negotiate, so GC's grace period restarts for them. */
const TOUCH_AFTER_MS = 3600_000;
const NEGOTIATE_PARALLELISM = 64;

export const blobRoutes: RoutePlugin = (app, ctx) => {

  app.post(
    `${P}/blobs/negotiate`,
    { schema: { summary: 'Which of these blobs does the server lack? Answers only those, with upload URLs', body: NegotiateRequest, response: { 200: NegotiateResponse, ...errors } } },
    async (req) => {
      const origin = `${req.protocol}://${req.host}`;
      const wanted = req.body.blobs;
      const missing: z.infer<typeof NegotiateResponse>['missing'] = [];
      const seen = new Set<string>();
      let next = 0;
      const now = Date.now();
      const worker = async () => {
        while (next < wanted.length) {
          const b = wanted[next++];
          if (seen.has(b.digest)) continue;
          seen.add(b.digest);
          const s = await ctx.blobs.stat(b.digest);
          if (s && s.size === b.size) {
            if (now - s.mtimeMs > TOUCH_AFTER_MS) await ctx.blobs.touch(b.digest);
            continue;
          }
          missing.push({ digest: b.digest, size: b.size, uploadUrl: origin + routes.blob(b.digest), headers: { 'content-type': 'application/octet-stream' } });
        }
      };
      await Promise.all(Array.from({ length: Math.min(NEGOTIATE_PARALLELISM, wanted.length) }, worker));
      return { missing };
    },
  );

  // Blob bytes are never buffered: in this scope every content type (octet-stream or whatever a
  // client's HTTP library sends by default) hands the raw request stream to the handler.
  void app.register(async (plain) => {
    const scope = plain.withTypeProvider<ZodTypeProvider>();
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    scope.put(
      `${P}/blobs/:digest`,
      {
        schema: {
          summary: 'Upload blob bytes (application/octet-stream); the server re-hashes them and rejects a mismatch',
          params: DigestParams,
          response: { 200: PutBlobResponse, 201: PutBlobResponse, ...errors },
        },
      },
      async (req, reply) => {
        const stream = req.body instanceof Readable ? req.body : req.raw;
        const len = req.headers['content-length'];
        const expected = len !== undefined ? Number(len) : undefined;
        const out = await ctx.blobs.put(req.params.digest, stream, Number.isSafeInteger(expected) ? expected : undefined);
        return reply.code(out.created ? 201 : 200).send({ digest: req.params.digest, size: out.size, created: out.created });
      },
    );
  });

  app.post(
    `${P}/blobs/flush`,
    { schema: { summary: 'Make every blob uploaded so far durable (fsync)', response: { 200: z.object({ ok: z.literal(true) }), ...errors } } },
    async () => {
      await ctx.blobs.flush();
      return { ok: true as const };
    },
  );

  app.get(
    `${P}/blobs/:digest`,
    { schema: { summary: 'Download blob bytes (supports a single Range)', params: DigestParams } },
    async (req, reply) => {
      const s = await ctx.blobs.stat(req.params.digest);
      if (!s) throw new AmphoraError('not_found', `The server has no blob ${req.params.digest}; it may never have been uploaded or was garbage-collected.`);
      void reply.header('content-type', 'application/octet-stream').header('etag', `"${req.params.digest}"`).header('accept-ranges', 'bytes');
      void reply.header('cache-control', 'private, max-age=31536000, immutable');
      const range = parseRange(req.headers.range, s.size);
      if (range === 'invalid') {
        return reply.code(416).header('content-range', `bytes */${s.size}`).send({ error: { code: 'invalid_request', message: `Range "${req.headers.range}" is outside the blob's ${s.size} bytes.` } });
      }
      if (range) {
        void reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${s.size}`).header('content-length', range.end - range.start + 1);
        return reply.send(ctx.blobs.read(req.params.digest, range));
      }
      void reply.header('content-length', s.size);
      return reply.send(ctx.blobs.read(req.params.digest));
    },
  );
};

function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined | 'invalid' {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined; // unsupported forms (multi-range): whole body
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return size === 0 ? undefined : 'invalid';
  return { start, end };
}
