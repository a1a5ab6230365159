/**
 * The served OpenAPI document is a contract for clients we do not write: every route the server
 * registers (every key of ROUTE_ACCESS, which the server refuses to start without) is in it with
 * an operationId a generated client can use as its method name, a summary and a 4xx answer.
 * `npm run lint` checks the whole document with Redocly; this test names the route and the fix.
 */
import assert from 'node:assert/strict';
import { ROUTE_ACCESS } from '../../src/server/auth/routeAccess.js';
import { startTestServer, type TestServer } from './server-helpers.js';

/** Routes left out of the document on purpose (`hide: true`), with the reason. */
const HIDDEN: Record<string, string> = {
  'GET /api/v1/openapi.json': 'the document itself',
};

interface Operation {
  operationId?: string;
  summary?: string;
  responses?: Record<string, unknown>;
}

/** `/api/v1/runs/:runId` → `/api/v1/runs/{runId}`, as the document spells paths. */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z]+)/g, '{$1}');
}

/** A name in the style of the others, for the failure message: GET …/runs/{runId}/metrics → listRunMetrics. */
function suggestOperationId(method: string, url: string): string {
  const segments = url.split('/').slice(3); // after /api/v1
  const words: string[] = [];
  segments.forEach((s, i) => {
    if (s.startsWith(':') || (s === 'projects' && segments[i + 1] === ':entity') || (i === 0 && s === 'admin')) return;
    const next = segments[i + 1];
    const word = next?.startsWith(':') && s.endsWith('s') ? s.slice(0, -1) : s; // runs/:runId → Run
    words.push(word.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase()));
  });
  const last = segments[segments.length - 1] ?? '';
  const verb = { GET: last.startsWith(':') ? 'get' : 'list', POST: 'create', PUT: 'put', PATCH: 'update', DELETE: 'delete' }[method] ?? method.toLowerCase();
  return verb + words.join('');
}

describe('OpenAPI contract: every route is a named, summarized operation with its errors', function () {
  this.timeout(120_000); // one server start, slow on a loaded machine
  let s: TestServer;
  let paths: Record<string, Record<string, Operation>>;
  before(async () => {
    s = await startTestServer();
    const doc = await s.api.get('/api/v1/openapi.json');
    assert.equal(doc.status, 200, JSON.stringify(doc.body));
    paths = doc.body.paths;
  });
  after(() => s?.stop());

  const routes = Object.keys(ROUTE_ACCESS).filter((r) => !(r in HIDDEN));

  it('lists every route the server registers', () => {
    const absent = routes.filter((r) => {
      const [method, url] = r.split(' ');
      return !paths[openApiPath(url)]?.[method.toLowerCase()];
    });
    assert.deepEqual(
      absent,
      [],
      `Routes missing from /api/v1/openapi.json: ${absent.join(', ')}. Give them a zod schema (not hide: true) in src/server/routes/, ` +
        'or, if hidden on purpose, add them with the reason to HIDDEN in test/integration/openapi-contract.test.ts.',
    );
  });

  it('gives every operation an operationId (a camelCase verb and noun), a summary and a 4xx response', () => {
    const problems: string[] = [];
    for (const route of routes) {
      const [method, url] = route.split(' ');
      const op = paths[openApiPath(url)]?.[method.toLowerCase()];
      if (!op) continue; // reported by the test above
      const where = `the schema of app.${method.toLowerCase()}(\`…${url.replace('/api/v1', '')}\`) in src/server/routes/`;
      if (!op.operationId) {
        problems.push(`${route} has no operationId: add operationId: '${suggestOperationId(method, url)}' (or a better verb + noun, like the SDK method that calls it) to ${where}`);
      } else if (!/^[a-z]+[A-Z][A-Za-z]*$/.test(op.operationId)) {
        problems.push(`${route} has operationId '${op.operationId}': use a camelCase verb + noun such as '${suggestOperationId(method, url)}' in ${where}`);
      }
      if (!op.summary?.trim()) problems.push(`${route} has no summary: add summary: 'what it does, in one line' to ${where}`);
      if (!Object.keys(op.responses ?? {}).some((code) => /^4\d\d$/.test(code))) {
        problems.push(`${route} documents no 4xx response: add ...errors (src/server/routes/common.ts) to the response map in ${where}`);
      }
    }
    assert.deepEqual(problems, [], problems.join('\n'));
  });

  it('suggests names in the house style when one is missing', () => {
    assert.equal(suggestOperationId('GET', '/api/v1/projects/:entity/:project/runs/:runId/metrics'), 'listRunMetrics');
    assert.equal(suggestOperationId('GET', '/api/v1/projects/:entity/:project/runs/:runId'), 'getRun');
    assert.equal(suggestOperationId('POST', '/api/v1/teams/:team/members'), 'createTeamMembers');
    assert.equal(suggestOperationId('GET', '/api/v1/projects'), 'listProjects');
  });

  it('uses each operationId once (generated clients turn them into method names)', () => {
    const seen = new Map<string, string>();
    const clashes: string[] = [];
    for (const [path, ops] of Object.entries(paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!op.operationId) continue;
        const here = `${method.toUpperCase()} ${path}`;
        const first = seen.get(op.operationId);
        if (first) clashes.push(`operationId '${op.operationId}' is used by ${first} and ${here}: rename one`);
        else seen.set(op.operationId, here);
      }
    }
    assert.deepEqual(clashes, [], clashes.join('\n'));
  });
});
