import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { NAME_PATTERN } from '../core/names.js';

const CREDENTIALS_FILE = 'credentials.json';

export interface Credentials {
  apiKey: string;
  entity: string;
}

/** The embedded server's user: AMPHORA_ENTITY, else the OS user name made into a valid name. */
export function embeddedEntity(env: Record<string, string | undefined> = process.env): string {
  let raw = env.AMPHORA_ENTITY;
  if (!raw) {
    try {
      raw = userInfo().username;
    } catch {
      raw = env.USER || env.USERNAME || 'local';
    }
  }
  const clean = raw.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[.-]+|-+$/g, '').slice(0, 128);
  return NAME_PATTERN.test(clean) && clean !== '.' && clean !== '..' ? clean : 'local';
}

/** Loads the API key from the data dir, creating it (mode 0600) on first start. */
export function loadOrCreateCredentials(dataDir: string): Credentials {
  const path = join(dataDir, CREDENTIALS_FILE);
  const entity = embeddedEntity();
  if (existsSync(path)) {
    try {
      const c = JSON.parse(readFileSync(path, 'utf8')) as Partial<Credentials>;
      if (typeof c.apiKey === 'string' && c.apiKey.length >= 32) return { apiKey: c.apiKey, entity };
    } catch {
      // unreadable: make a new key below
    }
  }
  const apiKey = `amp_${randomBytes(24).toString('base64url')}`;
  writeFileSync(path, JSON.stringify({ apiKey, entity }, null, 2) + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  return { apiKey, entity };
}

export function sameKey(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
