/**
 * Team-mode resolve throughput: two replicas (dist/server.mjs --db postgres://…) on one database,
 * autocannon against both at once (half the connections each), plus one replica alone for
 * comparison. Uses AMPHORA_DB_URL when set (an empty database you own), else a throwaway
 * PostgreSQL 15 cluster started like the tests do.
 *
 *   node esbuild.mjs && npx tsx bench/resolve-team.ts [--quick]
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { createTestDatabase } from '../test/support/postgres.js';
import { startReplica, TEAM_KEY, type Replica } from '../test/support/replicas.js';

const quick = process.argv.includes('--quick');
const DURATION_S = quick ? 3 : 15;
const CONNECTIONS = 32;

async function load(urls: string[], ref: string): Promise<{ rps: number; p50: number; p99: number; bad: number }> {
  const results = await Promise.all(
    urls.map((url) =>
      autocannon({
        url: `${url}/api/v1/resolve?ref=${encodeURIComponent(ref)}`,
        connections: CONNECTIONS / urls.length,
        duration: DURATION_S,
        headers: { authorization: `Bearer ${TEAM_KEY}` },
      }),
    ),
  );
  return {
    rps: results.reduce((s, r) => s + r.requests.average, 0),
    p50: Math.max(...results.map((r) => r.latency.p50)),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    bad: results.reduce((s, r) => s + r.non2xx + r.errors + r.timeouts, 0),
  };
}

async function main() {
  const own = process.env.AMPHORA_DB_URL;
  const db = own ? { url: own, drop: async () => undefined } : await createTestDatabase('amphora_bench');
  const blobs = mkdtempSync(path.join(tmpdir(), 'amphora-bench-team-'));
  const replicas: Replica[] = [];
  try {
    replicas.push(...(await Promise.all([startReplica(db.url, blobs, ['--log-level', 'warn']), startReplica(db.url, blobs, ['--log-level', 'warn'])])));
    const [a, b] = replicas;
    const headers = { authorization: `Bearer ${TEAM_KEY}`, 'content-type': 'application/json' };
    const weights = Buffer.from('weights');
    const digest = createHash('sha256').update(weights).digest('hex');
    const put = await fetch(`${a.url}/api/v1/blobs/${digest}`, { method: 'PUT', headers: { authorization: headers.authorization, 'content-type': 'application/octet-stream' }, body: weights });
    if (put.status >= 300) throw new Error(`blob upload failed: ${put.status} ${await put.text()}`);
    const res = await fetch(`${a.url}/api/v1/projects/admin/bench/artifacts/trained-model/versions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ type: 'model', aliases: ['production'], manifest: { 'model.bin': { digest, size: weights.length } } }),
    });
    if (res.status !== 201) throw new Error(`seeding failed: ${res.status} ${await res.text()}`);
    const ref = 'admin/bench/trained-model:production';
    await new Promise((r) => setTimeout(r, 1000));
    const one = await load([a.url], ref);
    const two = await load([a.url, b.url], ref);
    const rows = [
      ['team mode (PostgreSQL 15, local)', 'resolve req/s', 'p50 / p99', 'non-2xx+errors', 'target'],
      ['one replica', Math.round(one.rps).toLocaleString('en'), `${one.p50} / ${one.p99} ms`, String(one.bad), ''],
      ['two replicas (load split)', Math.round(two.rps).toLocaleString('en'), `${two.p50} / ${two.p99} ms`, String(two.bad), '≥ 3,000'],
    ];
    const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    console.log(`\nAmphora team resolve benchmark${quick ? ' (--quick)' : ''}: ${CONNECTIONS} connections, ${DURATION_S} s each, GET /api/v1/resolve?ref=…:production\n`);
    for (const [i, r] of rows.entries()) {
      console.log(r.map((c, j) => c.padEnd(w[j])).join(' | '));
      if (i === 0) console.log(w.map((n) => '-'.repeat(n)).join('-|-'));
    }
  } finally {
    await Promise.all(replicas.map((r) => r.kill()));
    await db.drop();
    rmSync(blobs, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
