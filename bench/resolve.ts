/**
 * Alias resolution throughput: autocannon against GET /api/v1/resolve on the embedded server
 * (its own process, dist/server.mjs), plus the server's resident memory idle and under load.
 *
 *   node esbuild.mjs && npx tsx bench/resolve.ts [--quick]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { Artifact } from '../src/client/artifact.js';
import { Client } from '../src/client/client.js';
import { startServerProcess } from './server-process.js';

const quick = process.argv.includes('--quick');
const DURATION_S = quick ? 3 : 15;
const CONNECTIONS = 32;

async function main() {
  const base = mkdtempSync(path.join(tmpdir(), 'amphora-bench-resolve-'));
  // First start on a fresh data dir: initdb runs in a child process, so this start should idle
  // near a later one (it was ~650 vs ~310 MB when initdb ran in-process). Measure it, seed, then restart on
  // the same (now existing) data dir, as a user's server normally starts, and measure that.
  const first = await startServerProcess(path.join(base, 'data'));
  const freshKiB = first.rssKiB();
  let ref: string;
  try {
    const client = await Client.connect({ baseUrl: first.url, apiKey: first.apiKey, cacheDir: path.join(base, 'cache'), env: {} });
    const f = path.join(base, 'model.bin');
    writeFileSync(f, 'weights');
    const a = new Artifact('trained-model', 'model');
    await a.addFile(f);
    await a.log({ client, project: 'bench', aliases: ['production'] });
    ref = `${client.entity}/bench/trained-model:production`;
    await client.close();
  } finally {
    await first.stop();
  }
  const server = await startServerProcess(path.join(base, 'data'));
  try {

    await new Promise((r) => setTimeout(r, 2000));
    const idleKiB = server.rssKiB();
    let peakKiB = idleKiB;
    const sampler = setInterval(() => {
      try {
        peakKiB = Math.max(peakKiB, server.rssKiB());
      } catch {
        /* exited */
      }
    }, 100);
    const result = await autocannon({
      url: `${server.url}/api/v1/resolve?ref=${encodeURIComponent(ref)}`,
      connections: CONNECTIONS,
      duration: DURATION_S,
      headers: { authorization: `Bearer ${server.apiKey}` },
    });
    clearInterval(sampler);
    const afterKiB = server.rssKiB();
    const mib = (k: number) => `${(k / 1024).toFixed(0)} MiB`;
    const rows = [
      ['metric', 'value', 'target'],
      ['resolve requests/s (mean)', Math.round(result.requests.average).toLocaleString('en'), '≥ 3,000'],
      ['latency p50 / p99', `${result.latency.p50} ms / ${result.latency.p99} ms`, ''],
      ['non-2xx / errors / timeouts', `${result.non2xx} / ${result.errors} / ${result.timeouts}`, '0 / 0 / 0'],
      ['server RSS, first start (fresh data dir)', mib(freshKiB), ''],
      ['server RSS idle (existing data dir)', mib(idleKiB), ''],
      ['server RSS under load (peak)', mib(peakKiB), ''],
      ['server RSS after load', mib(afterKiB), ''],
    ];
    const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
    console.log(`\nAmphora resolve benchmark${quick ? ' (--quick)' : ''}: ${CONNECTIONS} connections, ${DURATION_S} s, GET /api/v1/resolve?ref=…:production\n`);
    for (const [i, r] of rows.entries()) {
      console.log(r.map((c, j) => c.padEnd(w[j])).join(' | '));
      if (i === 0) console.log(w.map((n) => '-'.repeat(n)).join('-|-'));
    }
  } finally {
    await server.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
