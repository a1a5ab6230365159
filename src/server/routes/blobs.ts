import { Readable } from 'node:stream';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BlobBatchHeader, ErrorBody, ConfirmBlobsRequest, ConfirmBlobsResponse, GetBlobBatchRequest, NegotiateRequest, NegotiateResponse, PutBlobBatchResponse, PutBlobResponse, routes } from '../../core/api.js';
import { Limiter } from '../../core/limiter.js';
import { mapPool } from '../../core/pool.js';
import type { BlobStore } from '../blobs/blobStore.js';
import { AmphoraError } from '../../core/errors.js';
import { readableDigests, recordUploads } from '../auth/blobAccess.js';
import type { RoutePlugin } from '../context.js';
import { errors, P, plainJsonSerializer, RawBytes } from './common.js';

const DigestParams = z.object({ digest: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters of SHA-256') });
/** Re-touch present blobs older than this on negotiate, so GC's grace period restarts for them. */
const TOUCH_AFTER_MS = 3600_000;
const NEGOTIATE_PARALLELISM = 64;
const BATCH_MAX_BLOB_BYTES = 4 * 1024 * 1024;
const BATCH_HEADER_MAX_BYTES = 2 * 1024 * 1024;
/** Verifications of direct uploads in flight per confirm request (each streams an object). */
const CONFIRM_PARALLELISM = 4;
/** Blobs of one batch upload written to the store at once (S3 PUTs are round trips; local ones cost ~nothing). */
const BATCH_PUT_PARALLELISM = 16;
/** Small blobs of a batch download read ahead of the one being sent. */
const BATCH_GET_READ_AHEAD = 16;
/** A batch upload's small blobs are cut into packs of about this size (stores with packs). */
const PACK_TARGET_BYTES = 16 << 20;

export const blobRoutes: RoutePlugin = (app, ctx) => {

  app.post(
    `${P}/blobs/negotiate`,
    {
      schema: { operationId: 'negotiateBlobs', summary: 'Which of these blobs does the server lack? Answers only those, with upload URLs', body: NegotiateRequest, response: { 200: NegotiateResponse, ...errors } },
      serializerCompiler: plainJsonSerializer,
    },
    async (req) => {
      const wanted = dedupe(req.body.blobs);
      // Blobs the caller may not read count as missing: they upload them, which proves they hold
      // the bytes (the upload goes to a staging key or is re-hashed: stored bytes are never replaced).
      const readable = await readableDigests(ctx.db, req.principal, wanted.map((b) => b.digest));
      const present = await ctx.blobs.statMany(wanted.map((b) => b.digest).filter((d) => readable.has(d)));
      const missing: z.infer<typeof NegotiateResponse>['missing'] = [];
      const now = Date.now();
      await mapPool(wanted, NEGOTIATE_PARALLELISM, async (b) => {
        const s = present.get(b.digest);
        if (s && s.size === b.size) {
          if (now - s.mtimeMs > TOUCH_AFTER_MS) await ctx.blobs.touch(b.digest);
          return;
        }
        // Team mode: large blobs go straight to the bucket (presigned); small ones to our batch route.
        const target = await ctx.blobs.uploadTarget?.(b.digest, b.size);
        if (target) missing.push({ digest: b.digest, size: b.size, uploadUrl: target.url, headers: target.headers, parts: target.parts, confirm: target.confirm });
        // Root-relative: clients resolve it against the address they reached this server at
        // (a tunnel or proxy included). Never built from the request's Host header, which the
        // client — or a page rebinding its DNS — chooses.
        else missing.push({ digest: b.digest, size: b.size, uploadUrl: routes.blob(b.digest), headers: { 'content-type': 'application/octet-stream' } });
      });
      return { missing };
    },
  );

  app.post(
    `${P}/blobs/confirm`,
    {
      schema: {
        operationId: 'confirmBlobs',
        summary: 'After uploading straight to storage (negotiation gave a "confirm" token): verify each blob against its digest and count it as present',
        body: ConfirmBlobsRequest,
        response: { 200: ConfirmBlobsResponse, ...errors },
      },
    },
    async (req) => {
      const store = ctx.blobs;
      if (!store.confirm) throw new AmphoraError('unsupported', 'This server stores blobs itself and hands out no confirm tokens; upload blobs to the URLs of /api/v1/blobs/negotiate.');
      const items: z.infer<typeof PutBlobResponse>[] = [];
      const failed: { digest: string; actual: string }[] = [];
      // A blob the caller cannot read yet becomes theirs by this upload: its bytes must be verified
      // even when the blob is already stored (else knowing a digest would be enough to read it).
      const readable = await readableDigests(ctx.db, req.principal, req.body.blobs.map((b) => b.digest));
      await mapPool(req.body.blobs, CONFIRM_PARALLELISM, async (b) => {
        try {
          const out = await store.confirm!(b.digest, b.size, b.confirm, b.parts, { proveUpload: !readable.has(b.digest) });
          items.push({ digest: b.digest, size: out.size, created: out.created });
        } catch (e) {
          if (!(e instanceof AmphoraError) || e.code !== 'digest_mismatch') throw e;
          failed.push({ digest: b.digest, actual: (e.details as { actual: string }).actual });
        }
      });
      // Who uploaded what: lets a team user commit (and read) the blobs they uploaded straight to storage.
      await recordUploads(ctx.db, req.principal, items.map((i) => i.digest));
      if (failed.length) {
        throw new AmphoraError(
          'digest_mismatch',
          `${failed.length} uploaded blob(s) do not hash to their digest (first: ${failed[0].digest} hashes to ${failed[0].actual}); they were discarded, the other ${items.length} kept. Re-hash and upload those again.`,
          { failed, stored: items.length },
        );
      }
      return { items };
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
          operationId: 'putBlob',
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
        await recordUploads(ctx.db, req.principal, [req.params.digest]);
        return reply.code(out.created ? 201 : 200).send({ digest: req.params.digest, size: out.size, created: out.created });
      },
    );

    scope.post(
      `${P}/blobs/batch`,
      {
        schema: {
          operationId: 'putBlobBatch',
          summary: 'Upload many small blobs in one request: a JSON header line {"blobs":[{digest,size}…]} then their bytes back to back',
          response: { 200: PutBlobBatchResponse, ...errors },
        },
        serializerCompiler: plainJsonSerializer,
      },
      async (req) => {
        const stream = req.body instanceof Readable ? req.body : req.raw;
        const items = await putBatch(ctx.blobs, stream, (digests) => recordUploads(ctx.db, req.principal, digests));
        return { items };
      },
    );
  });

  app.post(
    `${P}/blobs/batch-get`,
    { schema: { operationId: 'getBlobBatch', summary: "Download many blobs in one response: their bytes back to back in request order", body: GetBlobBatchRequest, response: { 200: RawBytes, ...errors } } },
    async (req, reply) => {
      const digests = req.body.digests;
      const sizes: number[] = [];
      const missing: string[] = [];
      const readable = await readableDigests(ctx.db, req.principal, digests);
      const present = await ctx.blobs.statMany(digests.filter((d) => readable.has(d)));
      for (const d of digests) {
        const s = present.get(d);
        if (s) sizes.push(s.size);
        else missing.push(d);
      }
      if (missing.length) {
        throw new AmphoraError('not_found', `The server lacks ${missing.length} of the requested blobs (first: ${missing[0]}); nothing was sent.`, { missing: missing.slice(0, 1000) });
      }
      const total = sizes.reduce((a, b) => a + b, 0);
      const blobs = ctx.blobs;
      // Small blobs are read a few ahead of the one being sent: free for the local folder, and it
      // hides the round trip per object when they come from a bucket.
      const ahead = new Map<number, Promise<Buffer>>();
      const prefetch = (i: number) => {
        if (i < digests.length && sizes[i] <= BATCH_MAX_BLOB_BYTES && !ahead.has(i)) {
          const p = blobs.readBytes(digests[i]);
          p.catch(() => undefined); // awaited in order below
          ahead.set(i, p);
        }
      };
      // Stores with packs read runs of small blobs together (ranged GETs of their packs).
      async function* fromPacks(readMany: NonNullable<BlobStore['readMany']>) {
        let run: { digest: string; size: number }[] = [];
        for (let i = 0; i < digests.length; i++) {
          if (sizes[i] <= BATCH_MAX_BLOB_BYTES) {
            run.push({ digest: digests[i], size: sizes[i] });
            continue;
          }
          if (run.length) yield* readMany(run);
          run = [];
          for await (const chunk of blobs.read(digests[i])) yield chunk as Buffer;
        }
        if (run.length) yield* readMany(run);
      }
      async function* bytes() {
        if (blobs.readMany) return yield* fromPacks(blobs.readMany.bind(blobs));
        for (let i = 0; i < digests.length; i++) {
          for (let j = i; j < i + BATCH_GET_READ_AHEAD; j++) prefetch(j);
          if (sizes[i] <= BATCH_MAX_BLOB_BYTES) {
            const b = await ahead.get(i)!;
            ahead.delete(i);
            yield b;
          } else for await (const chunk of blobs.read(digests[i])) yield chunk as Buffer;
        }
      }
      void reply.header('content-type', 'application/octet-stream').header('content-length', total);
      return reply.send(Readable.from(bytes(), { objectMode: false }));
    },
  );

  app.post(
    `${P}/blobs/flush`,
    { schema: { operationId: 'flushBlobs', summary: 'Make every blob uploaded so far durable (fsync)', response: { 200: z.object({ ok: z.literal(true) }), ...errors } } },
    async () => {
      await ctx.blobs.flush();
      return { ok: true as const };
    },
  );

  app.get(
    `${P}/blobs/:digest`,
    { schema: { operationId: 'getBlob', summary: 'Download blob bytes (supports a single Range)', params: DigestParams, response: { 200: RawBytes, 206: RawBytes, 307: RawBytes, ...errors, 416: ErrorBody } } },
    async (req, reply) => {
      // Unreadable and absent blobs look the same to the caller.
      const readable = await readableDigests(ctx.db, req.principal, [req.params.digest]);
      const s = readable.has(req.params.digest) ? await ctx.blobs.stat(req.params.digest) : undefined;
      if (!s) throw new AmphoraError('not_found', `The server has no blob ${req.params.digest} you may read; it may never have been uploaded, was garbage-collected, or belongs only to projects your key has no role on.`);
      // Team mode: large blobs come straight from the bucket (a presigned URL, valid for a while).
      const direct = await ctx.blobs.downloadUrl?.(req.params.digest, s.size);
      if (direct) return reply.code(307).header('location', direct).header('cache-control', 'no-store').send();
      void reply.header('content-type', 'application/octet-stream').header('etag', `"${req.params.digest}"`).header('accept-ranges', 'bytes');
      void reply.header('cache-control', 'private, max-age=31536000, immutable');
      const range = parseRange(req.headers.range, s.size);
      if (range === 'invalid') {
        // The body is JSON (ErrorBody), not the octet-stream announced above.
        return reply
          .code(416)
          .header('content-range', `bytes */${s.size}`)
          .type('application/json; charset=utf-8')
          .send({
            error: {
              code: 'range_not_satisfiable',
              message: `Range "${String(req.headers.range).slice(0, 100)}" cannot be served from this blob's ${s.size} bytes; ask for bytes=START-END with START ≤ END < ${s.size} (or bytes=-N with N ≥ 1), or send no Range for the whole blob.`,
            },
          });
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

/** Reads a batch body: a JSON header line, then each blob's bytes in order; stores each verified. */
async function putBatch(store: BlobStore, body: Readable, recordStored: (digests: string[]) => Promise<void>): Promise<z.infer<typeof PutBlobResponse>[]> {
  const reader = new ChunkReader(body as AsyncIterable<Buffer>);
  const line = await reader.readLine(BATCH_HEADER_MAX_BYTES);
  let header: z.infer<typeof BlobBatchHeader>;
  try {
    header = BlobBatchHeader.parse(JSON.parse(line.toString('utf8')));
  } catch (e) {
    throw new AmphoraError('invalid_request', `The first line of a batch upload must be JSON {"blobs":[{"digest","size"},…]} (1–10,000 blobs): ${(e as Error).message.slice(0, 300)}`);
  }
  const tooBig = header.blobs.find((b) => b.size > BATCH_MAX_BLOB_BYTES);
  if (tooBig) {
    throw new AmphoraError('payload_too_large', `Blob ${tooBig.digest} has ${tooBig.size} bytes; batches carry blobs up to ${BATCH_MAX_BLOB_BYTES / 1048576} MiB — PUT larger ones to /api/v1/blobs/<digest>.`);
  }
  const items: z.infer<typeof PutBlobResponse>[] = [];
  const failed: { digest: string; actual: string }[] = [];
  // One lookup for the whole batch instead of one per blob (a database query each in team mode).
  const present = await store.statMany(header.blobs.map((b) => b.digest));
  // Each blob is verified and written while the next ones are read (bounded: reading waits for a slot).
  const limiter = new Limiter(BATCH_PUT_PARALLELISM);
  const writes: Promise<void>[] = [];
  let fatal: { e: unknown } | undefined;
  /** Starts `write` on a free slot; resolves once it has started, so reading pauses while every slot is busy. */
  const schedule = async (write: () => Promise<void>) => {
    let started!: () => void;
    const slot = new Promise<void>((r) => (started = r));
    writes.push(
      limiter.run(async () => {
        started();
        try {
          await write();
        } catch (e) {
          fatal ??= { e };
        }
      }),
    );
    await slot;
  };
  // Stores with packs (S3, an embedded server's folder) get the batch's small absent blobs as a few
  // packs, not one object or file each. 0: this store writes no packs.
  const packMax = store.putPack ? (store.packMaxBlobBytes ?? 0) : 0;
  let pack: { digest: string; bytes: Buffer }[] = [];
  let packBytes = 0;
  const flushPack = () => {
    const blobs = pack;
    pack = [];
    packBytes = 0;
    return schedule(async () => {
      const out = await store.putPack!(blobs);
      items.push(...out.stored);
      failed.push(...out.failed);
    });
  };
  for (const b of header.blobs) {
    const bytes = await reader.readExactly(b.size);
    if (fatal) break;
    if (packMax > 0 && b.size <= packMax && !present.has(b.digest)) {
      pack.push({ digest: b.digest, bytes });
      packBytes += b.size;
      if (packBytes >= PACK_TARGET_BYTES) await flushPack();
      continue;
    }
    await schedule(async () => {
      try {
        const out = await store.putBytes(b.digest, bytes, { knownAbsent: !present.has(b.digest) });
        items.push({ digest: b.digest, size: out.size, created: out.created });
      } catch (e) {
        if (e instanceof AmphoraError && e.code === 'digest_mismatch') failed.push({ digest: b.digest, actual: (e.details as { actual: string }).actual });
        else throw e;
      }
    });
  }
  if (pack.length && !fatal) await flushPack();
  await Promise.all(writes);
  if (fatal) throw fatal.e;
  await recordStored(items.map((i) => i.digest));
  if (!(await reader.atEnd())) throw new AmphoraError('invalid_request', 'The batch body has bytes after the last blob of its header; sizes in the header must match the bytes sent.');
  if (failed.length) {
    throw new AmphoraError(
      'digest_mismatch',
      `${failed.length} blob(s) of the batch do not hash to their digest (first: ${failed[0].digest} hashes to ${failed[0].actual}); they were not stored, the other ${items.length} were. Re-hash and upload those again.`,
      { failed, stored: items.length },
    );
  }
  return items;
}

/** Pulls exact byte counts out of a chunked stream. */
class ChunkReader {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  private ended = false;

  constructor(src: AsyncIterable<Buffer>) {
    this.it = src[Symbol.asyncIterator]();
  }

  private async more(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.it.next();
    if (r.done) {
      this.ended = true;
      return false;
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    return true;
  }

  async readLine(max: number): Promise<Buffer> {
    let from = 0;
    for (;;) {
      const nl = this.buf.indexOf(0x0a, from);
      if (nl !== -1) {
        const line = this.buf.subarray(0, nl);
        this.buf = this.buf.subarray(nl + 1);
        return line;
      }
      from = this.buf.length;
      if (this.buf.length > max) throw new AmphoraError('payload_too_large', `The batch header line is longer than ${max} bytes; send at most 10,000 blobs per batch.`);
      if (!(await this.more())) throw new AmphoraError('invalid_request', 'The batch body ended before its header line ("\\n"-terminated JSON).');
    }
  }

  async readExactly(n: number): Promise<Buffer> {
    while (this.buf.length < n) {
      if (!(await this.more())) throw new AmphoraError('invalid_request', `The batch body ended early: a blob announced ${n} bytes but fewer arrived; nothing after it was stored.`);
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  async atEnd(): Promise<boolean> {
    return this.buf.length === 0 && !(await this.more());
  }
}

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

function dedupe<T extends { digest: string }>(blobs: T[]): T[] {
  const seen = new Set<string>();
  return blobs.filter((b) => !seen.has(b.digest) && (seen.add(b.digest), true));
}
