import { AmphoraError } from '../core/errors.js';

/** The site admin of a team server (SPEC §5: bootstrap creates the user "admin"). */
export const TEAM_ADMIN = 'admin';
const MIN_KEY_LENGTH = 32;

/**
 * A team server's key comes from AMPHORA_BOOTSTRAP_KEY, the same on every replica, so no replica
 * keeps a key of its own on disk. (Per-user keys stored as hashes in the database replace this
 * single key when users and roles exist.)
 */
export function teamCredentials(env: Record<string, string | undefined> = process.env): { apiKey: string; entity: string } {
  const key = env.AMPHORA_BOOTSTRAP_KEY?.trim();
  if (!key) {
    throw new AmphoraError(
      'invalid_request',
      'A team server (--db postgres://…) needs AMPHORA_BOOTSTRAP_KEY: set it to the same secret of at least 32 characters on every replica (e.g. `openssl rand -base64 32`); clients use it as AMPHORA_API_KEY.',
    );
  }
  if (key.length < MIN_KEY_LENGTH) {
    throw new AmphoraError('invalid_request', `AMPHORA_BOOTSTRAP_KEY is ${key.length} characters long; use at least ${MIN_KEY_LENGTH} (e.g. \`openssl rand -base64 32\`).`);
  }
  return { apiKey: key, entity: TEAM_ADMIN };
}
