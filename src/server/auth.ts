import type { FastifyReply, FastifyRequest } from 'fastify';
import { routes } from '../core/api.js';
import { DISCOVERY_FILE } from '../core/config.js';
import { sameKey } from './credentials.js';

const PUBLIC_PATHS = new Set([routes.health()]);

/** Bearer API key on every route but the health check. */
export function authHook(apiKey: string, embedded: boolean) {
  // No data-dir path here: whoever lacks the key need not learn where the server keeps its files.
  const where = embedded
    ? `The key of this server is the "apiKey" of the discovery file ${DISCOVERY_FILE} in its data dir (readable only by the user who started it); `
    : 'This is a team server: ask its administrator for a key; ';
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const path = req.url.split('?')[0];
    if (PUBLIC_PATHS.has(path)) return;
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (m && sameKey(m[1].trim(), apiKey)) return;
    await reply.code(401).send({
      error: {
        code: 'unauthorized',
        message:
          `${header ? 'Wrong API key' : 'Missing API key'}: send "Authorization: Bearer <key>". ` +
          where +
          'or set AMPHORA_API_KEY (with AMPHORA_BASE_URL) for the client.',
      },
    });
  };
}
