import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { AmphoraHttp } from '../../src/client/http.js';
import { CommError } from '../../src/core/errors.js';

const S3_500 = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>';
const S3_EXPIRED = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>';
const S3_SIGNATURE = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message></Error>';

/**
 * A loopback stand-in for the storage a server hands out presigned URLs to (no S3 logic: it answers
 * what each test scripts), and one for the Amphora server's blob route redirecting a GET there.
 */
describe('client: storage requests (presigned URLs) retry 5xx/429 with back-off, and say why when they give up', () => {
  let storage: Server;
  let server: Server;
  let storageUrl: string;
  let serverUrl: string;
  /** Status, body and headers of each next storage answer; the last one repeats. */
  let script: { status: number; body?: string; headers?: Record<string, string> }[];
  let received: { method: string; bytes: number }[];
  const bytes = Buffer.from('blob bytes '.repeat(100));
  const digest = createHash('sha256').update(bytes).digest('hex');
  let waits: number[];
  const client = () => {
    const http = new AmphoraHttp({ baseUrl: serverUrl, apiKey: 'k', storageOrigins: new Set() });
    waits = [];
    http.storageRetryOptions = { sleep: async (ms) => void waits.push(ms) };
    return http;
  };

  before(async () => {
    storage = createServer((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => {
        received.push({ method: req.method!, bytes: n });
        const a = script.length > 1 ? script.shift()! : script[0];
        res.writeHead(a.status, { 'content-type': 'application/xml', ...a.headers });
        res.end(a.status < 300 && req.method === 'GET' ? bytes : (a.body ?? ''));
      });
    });
    server = createServer((req, res) => {
      res.writeHead(307, { location: `${storageUrl}/bucket/${digest}?X-Amz-Signature=abc` });
      res.end();
    });
    for (const s of [storage, server]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    storageUrl = `http://127.0.0.1:${(storage.address() as { port: number }).port}`;
    serverUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  beforeEach(() => (received = []));
  after(async () => {
    for (const s of [storage, server]) await new Promise<void>((r) => s.close(() => r()));
  });

  const put = (http: AmphoraHttp) => http.putBlob(digest, bytes, bytes.length, `${storageUrl}/bucket/${digest}?X-Amz-Signature=abc`, {}, true);

  it('a PUT answered 500 InternalError twice is sent again, whole, and succeeds the third time', async () => {
    script = [{ status: 500, body: S3_500 }, { status: 500, body: S3_500 }, { status: 200 }];
    const http = client();
    await put(http);
    assert.deepEqual(received, [1, 2, 3].map(() => ({ method: 'PUT', bytes: bytes.length })));
    assert.equal(waits.length, 2);
    // Exponential back-off with jitter: 0.2 s then 0.4 s, each ±50 %.
    assert.ok(waits[0] >= 100 && waits[0] <= 300 && waits[1] >= 200 && waits[1] <= 600, `waits ${waits}`);
    await http.close();
  });

  it('a storage failing every time is given up after 5 attempts with what it answered and what to do (not "expired")', async () => {
    script = [{ status: 500, body: S3_500 }];
    const http = client();
    await assert.rejects(put(http), (e: unknown) => {
      const m = (e as Error).message;
      assert.ok(e instanceof CommError, String(e));
      assert.equal((e as CommError).code, 'server_unreachable');
      assert.match(m, new RegExp(`storage at ${storageUrl} answered PUT with HTTP 500 \\(InternalError: We encountered an internal error`));
      assert.match(m, /failing or overloaded/);
      assert.match(m, /5 attempts over/);
      assert.doesNotMatch(m, /expired/);
      return true;
    });
    assert.equal(received.length, 5);
    await http.close();
  });

  it('503 with Retry-After waits as long as the storage asked; 429 is retried too', async () => {
    script = [{ status: 503, body: '<Error><Code>SlowDown</Code></Error>', headers: { 'retry-after': '2' } }, { status: 429 }, { status: 200 }];
    const http = client();
    await put(http);
    assert.equal(received.length, 3);
    assert.ok(waits[0] >= 2000, `waited ${waits[0]} ms after Retry-After: 2`);
    await http.close();
  });

  it('an expired presigned URL (403) is not retried and says so', async () => {
    script = [{ status: 403, body: S3_EXPIRED }];
    const http = client();
    await assert.rejects(put(http), /HTTP 403 \(AccessDenied: Request has expired\): the presigned URL expired.*Run the transfer again/);
    assert.equal(received.length, 1);
    await http.close();
  });

  it('any other refusal (403 signature) is not retried and blames no expiry', async () => {
    script = [{ status: 403, body: S3_SIGNATURE }];
    const http = client();
    await assert.rejects(put(http), (e: unknown) => /SignatureDoesNotMatch/.test((e as Error).message) && /bucket settings and credentials/.test((e as Error).message) && !/expired/.test((e as Error).message));
    assert.equal(received.length, 1);
    await http.close();
  });

  it("a blob GET redirected to storage retries the storage's 500", async () => {
    script = [{ status: 500, body: S3_500 }, { status: 200 }];
    const http = client();
    const body = await http.getBlobStream(digest);
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), bytes);
    assert.deepEqual(received.map((r) => r.method), ['GET', 'GET']);
    await http.close();
  });
});
