import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys: 256 random bits, shown once. The database keeps only SHA-256(key): a key this
 * random cannot be brute-forced from its hash, so a slow password hash would only cost every
 * request time without adding safety.
 */
export const KEY_PREFIX = 'amp_';

export function newApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex digests (the lookup is by hash, this guards the match). */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** A key given by an operator (AMPHORA_BOOTSTRAP_KEY) must be as hard to guess as ours. */
export function checkOperatorKey(key: string, source: string): string {
  const k = key.trim();
  if (k.length < 32 || /\s/.test(k)) {
    throw new Error(`${source} must be at least 32 characters without spaces (for example the output of \`openssl rand -base64 32\`); it is the site admin's API key.`);
  }
  return k;
}
