/**
 * What the PostgreSQL store costs a log: 10,000 × 4 KiB files logged through the TS SDK to an
 * embedded server (PGlite) and to a team replica (PostgreSQL, same local blob folder kind), each a
 * fresh server process; then a download of the same version into a new folder with a cold cache.
 * Uses AMPHORA_DB_URL when set (an empty database you own), else a throwaway PostgreSQL 15 cluster.
 *
 *   node esbuild.mjs && npx tsx bench/log-team.ts [--quick]
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Artifact } from '../src/client/artifact.js';
import { Client } from '../src/client/client.js';
import { createTestDatabase } from '../test/support/postgres.js';
import { startReplica, TEAM_KEY } from '../test/support/replicas.js';
import { startServerProcess } from './server-process.js';

const quick = process.argv.includes('--quick');
const FILES = quick ? 2_000 : 10_000;
const SIZE = 4096;

async function timeLogAndGet(url: string, apiKey: string, data: string, base: string, label: string): Promise<{ log: number; get: number }> {
  const producer = await Client.connect({ baseUrl: url, apiKey, cacheDir: path.join(base, `cache-${label}`), env: {} });
  const consumer = await Client.connect({ baseUrl: url, apiKey, cacheDir: path.join(base, `cache-${label}-consumer`), env: {} });
  try {
    const t0 = performance.now();
    const a = new Artifact('small-files', 'dataset');
    await a.addDir(data);
    const logged = await a.log({ client: producer, project: 'bench' });
    const log = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const { Api } = await import('../src/client/api.js');
    const v = await new Api({ client: consumer }).artifact(`${producer.entity}/bench/small-files:${logged.version}`);
    await v.download({ root: path.join(base, `root-${label}`) });
    return { log, get: (performance.now() - t1) / 1000 };
  } finally {
    await producer.close();
    await consumer.close();
  }
}

async function main() {
  const base = mkdtempSync(path.join(tmpdir(), 'amphora-bench-logteam-'));
  const data = path.join(base, 'data');
  const bytes = randomBytes(FILES * SIZE);
  for (let i = 0; i < FILES; i++) {
    const dir = path.join(data, `d${Math.floor(i / 1000)}`);
    if (i % 1000 === 0) mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `f${i}.bin`), bytes.subarray(i * SIZE, (i + 1) * SIZE));
  }
  const own = process.env.AMPHORA_DB_URL;
  const db = own ? { url: own, drop: async () => undefined } : await createTestDatabase('amphora_bench');
  const rows: string[][] = [['server', `log ${FILES.toLocaleString('en')} × 4 KiB`, 'files/s', 'download, cold cache']];
  try {
    const embedded = await startServerProcess(path.join(base, 'embedded'));
    try {
      const r = await timeLogAndGet(embedded.url, embedded.apiKey, data, base, 'embedded');
      rows.push(['embedded (PGlite)', `${r.log.toFixed(2)} s`, Math.round(FILES / r.log).toLocaleString('en'), `${r.get.toFixed(2)} s`]);
    } finally {
      await embedded.stop();
    }
    const replica = await startReplica(db.url, path.join(base, 'team-blobs'), ['--log-level', 'warn']);
    try {
      const r = await timeLogAndGet(replica.url, TEAM_KEY, data, base, 'team');
      rows.push(['team replica (PostgreSQL 15)', `${r.log.toFixed(2)} s`, Math.round(FILES / r.log).toLocaleString('en'), `${r.get.toFixed(2)} s`]);
    } finally {
      await replica.kill();
    }
  } finally {
    await db.drop();
    rmSync(base, { recursive: true, force: true });
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  console.log(`\nAmphora log benchmark, embedded vs team store${quick ? ' (--quick)' : ''}\n`);
  for (const [i, r] of rows.entries()) {
    console.log(r.map((c, j) => c.padEnd(w[j])).join(' | '));
    if (i === 0) console.log(w.map((n) => '-'.repeat(n)).join('-|-'));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
