import { AmphoraError } from '../../core/errors.js';
import { MAX_INT4 } from '../inputLimits.js';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

export function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  return Math.min(Math.max(1, Math.floor(limit)), MAX_LIMIT);
}

/** Cursors are opaque to clients: base64url of the last key seen. */
export function encodeCursor(key: string | number): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/**
 * The key inside a cursor, checked by `isKey` to be one this server could have handed out: a
 * forged cursor is bad input (400), never a value that makes the query fail.
 */
export function decodeCursor<T>(cursor: string | undefined, isKey: (v: unknown) => v is T): T | undefined {
  if (!cursor) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (isKey(v)) return v;
  } catch {
    // fall through
  }
  throw new AmphoraError('invalid_request', `The cursor "${cursor.slice(0, 40)}" is not one this server handed out; pass the nextCursor of the previous page.`);
}

/** A version number as stored (PostgreSQL integer). */
export function isVersionIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_INT4;
}
