/** A team-mode server on PGlite with users, teams and keys made through the real HTTP API. */
import assert from 'node:assert/strict';
import { Api, startTestServer, type TestServer } from './server-helpers.js';

export const BOOTSTRAP_KEY = 'test-bootstrap-key-0123456789abcdefghijklmnop';

export async function startTeamServer(): Promise<TestServer & { admin: Api }> {
  const s = await startTestServer({ mode: 'team', bootstrapKey: BOOTSTRAP_KEY });
  assert.equal(s.server.apiKey, BOOTSTRAP_KEY);
  return { ...s, admin: new Api(s.server.url, BOOTSTRAP_KEY) };
}

/** Creates a user (as site admin) and returns a client holding their first key. */
export async function createUser(admin: Api, name: string): Promise<Api> {
  const r = await admin.post('/api/v1/users', { name });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return new Api(admin.url, r.body.apiKey);
}

export async function ok(p: Promise<{ status: number; body: any }>, label = ''): Promise<any> {
  const r = await p;
  assert.ok(r.status >= 200 && r.status < 300, `${label} → ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
}
