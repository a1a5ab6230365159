/**
 * Requests to the storage a server hands out (presigned S3 URLs) fail in ways our own server's
 * do not: a kept-alive connection closed just as it is reused, or a 5xx/429 from an overloaded or
 * flaky store (s3rver answers 500 InternalError under bursts; S3 itself asks to retry 500, 503
 * SlowDown and 429). Those are retried a bounded number of times with exponential back-off and
 * jitter (Retry-After honoured), since a presigned PUT or GET is idempotent; a 4xx is not retried
 * and says what it most likely means.
 */
import { AmphoraError, CommError, type ErrorCode } from '../core/errors.js';

/** Attempts in all, and the first back-off; later ones double (0.2, 0.4, 0.8, 1.6 s, ±50 %). */
export const STORAGE_ATTEMPTS = 5;
export const STORAGE_BACKOFF_MS = 200;
/** A Retry-After longer than this is capped: a transfer should fail clearly rather than hang. */
const MAX_WAIT_MS = 10_000;

/** A storage answer other than 2xx (a CommError, like every server or network failure). */
export class StorageError extends CommError {
  constructor(
    code: ErrorCode,
    message: string,
    /** The storage's HTTP status (`status` is the one our own API would use for `code`). */
    readonly httpStatus: number,
    /** Milliseconds the storage asked us to wait (Retry-After), if it said. */
    readonly retryAfterMs?: number,
  ) {
    super(code, message);
  }
}

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/** The error for a storage answer `status` with body `text` (an S3 XML error, usually). */
export function storageError(origin: string, method: string, status: number, text: string, retryAfter?: string | string[]): StorageError {
  const detail = s3ErrorSummary(text);
  const said = `The storage at ${origin} answered ${method} with HTTP ${status}${detail ? ` (${detail})` : ''}`;
  const wait = retryAfterMs(retryAfter);
  if (isRetryableStatus(status)) {
    return new StorageError('server_unreachable', `${said}: it is failing or overloaded. Check the storage service (its logs, disk and load), then run the transfer again; blobs already stored are not sent again.`, status, wait);
  }
  if (status === 403 && /expired/i.test(text)) {
    return new StorageError('invalid_request', `${said}: the presigned URL expired before the transfer reached it. Run the transfer again (it asks for fresh URLs); if it keeps happening, the server's and this machine's clocks may differ.`, status);
  }
  return new StorageError(status === 404 ? 'not_found' : 'invalid_request', `${said}: it refused the request the server presigned. Ask the server's administrator to check its bucket settings and credentials.`, status);
}

/** "InternalError: We encountered an internal error…" from an S3 XML error body, else its first line. */
function s3ErrorSummary(text: string): string {
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  if (code || message) return [code, message].filter(Boolean).join(': ').slice(0, 300);
  return text.trim().split('\n')[0].slice(0, 300);
}

function retryAfterMs(h: string | string[] | undefined): number | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return undefined;
  const s = Number(v);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export interface RetryOptions {
  attempts?: number;
  backoffMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Runs `send` until it succeeds, retrying connection failures (`server_unreachable` that is not a
 * StorageError) and retryable storage statuses; the last failure is rethrown with how many
 * attempts were made over how long.
 */
export async function retryStorage<T>(send: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? STORAGE_ATTEMPTS;
  const backoff = opts.backoffMs ?? STORAGE_BACKOFF_MS;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const t0 = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (e) {
      const retryable = e instanceof StorageError ? isRetryableStatus(e.httpStatus) : e instanceof AmphoraError && e.code === 'server_unreachable';
      if (!retryable) throw e;
      if (attempt >= attempts) {
        const err = e as AmphoraError;
        throw new CommError(err.code, `${err.message} (${attempts} attempts over ${((Date.now() - t0) / 1000).toFixed(1)} s.)`);
      }
      const planned = backoff * 2 ** (attempt - 1) * (0.5 + Math.random());
      await sleep(Math.min(MAX_WAIT_MS, Math.max(planned, e instanceof StorageError ? (e.retryAfterMs ?? 0) : 0)));
    }
  }
}
