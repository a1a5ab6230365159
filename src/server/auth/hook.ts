import type { FastifyReply, FastifyRequest } from 'fastify';
import { DISCOVERY_FILE } from '../../core/node/config.js';
import { AmphoraError, isAmphoraError } from '../../core/errors.js';
import type { Authenticator } from './authenticator.js';
import { requireRole, type Principal } from './principal.js';
import { ruleFor } from './routeAccess.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every route but the public ones. */
    principal: Principal;
  }
}

/**
 * onRequest: the bearer key → a Principal, then the route's access rule (routeAccess.ts).
 * Runs before body parsing and validation, so a caller without access learns nothing from a
 * 400 either. Unknown routes need a valid key too (then 404).
 */
export function authHook(auth: Authenticator, mode: 'embedded' | 'team') {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const url = req.routeOptions.url;
    const rule = url ? ruleFor(req.method, url) : undefined;
    if (rule === 'public') return;
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    try {
      if (!m) throw new AmphoraError('unauthorized', 'Missing API key');
      req.principal = await auth.authenticate(m[1].trim());
    } catch (e) {
      if (!isAmphoraError(e) || e.code !== 'unauthorized') throw e;
      await reply.code(401).send({ error: { code: 'unauthorized', message: unauthorizedMessage(e.message, !!header, mode) } });
      return reply;
    }
    if (!rule || rule === 'user') return;
    if (rule === 'siteAdmin') {
      if (!req.principal.siteAdmin) throw new AmphoraError('forbidden', `Only site admins may call ${req.method} ${url}; ask one (the bootstrap user "admin" is one).`);
      return;
    }
    const params = req.params as { entity?: string; project?: string };
    requireRole(req.principal, params.entity ?? '', params.project ?? '', rule.project, rule.action);
  };
}

// No data-dir path here: whoever lacks the key need not learn where the server keeps its files.
function unauthorizedMessage(why: string, sent: boolean, mode: 'embedded' | 'team'): string {
  const how = 'send "Authorization: Bearer <key>"';
  if (mode === 'team') {
    return `${sent ? why : 'Missing API key'}: ${how}. This is a team server: ask its administrator for a key (made by \`amphora user create\` or \`amphora key create\`); set AMPHORA_API_KEY (with AMPHORA_BASE_URL) for the client.`;
  }
  return (
    `${sent ? 'Wrong API key' : 'Missing API key'}: ${how}. ` +
    `The key of this server is the "apiKey" of the discovery file ${DISCOVERY_FILE} in its data dir (readable only by the user who started it); ` +
    'or set AMPHORA_API_KEY (with AMPHORA_BASE_URL) for the client.'
  );
}
