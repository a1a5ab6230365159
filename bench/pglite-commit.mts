/**
 * What a durable commit costs the embedded store: small transactions against a PGlite cluster with
 * the server's settings (fsync on, WAL synced with fsync(2) through PrivateNodeFS) and with PGlite's
 * default -F (fsync off), each on its own fresh cluster, alternating rounds.
 *   npx tsx bench/pglite-commit.mts [COMMITS=300] [ROUNDS=3]
 */
import { PGlite } from '@electric-sql/pglite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClusterInChild } from '../src/server/store/createCluster.js';
import { startParams } from '../src/server/store/pgliteParams.js';
import { PrivateNodeFS } from '../src/server/store/privateNodeFs.js';

const COMMITS = Number(process.env.COMMITS ?? 300);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const base = mkdtempSync(path.join(process.env.BENCH_DIR ?? tmpdir(), 'amphora-commit-'));
const template = path.join(base, 'template');
await createClusterInChild(template);

async function run(durable: boolean, round: number): Promise<{ perCommitMs: number; syncs: number }> {
  const dir = path.join(base, `${durable ? 'durable' : 'nofsync'}-${round}`);
  rmSync(dir, { recursive: true, force: true });
  (await import('node:fs')).cpSync(template, dir, { recursive: true });
  const fs = new PrivateNodeFS(dir);
  const db = await PGlite.create({ fs, startParams: startParams(PGlite.defaultStartParams, durable) });
  await db.exec('create table t (id serial primary key, name text not null, payload jsonb)');
  const syncs0 = fs.syncs;
  const t0 = performance.now();
  for (let i = 0; i < COMMITS; i++) {
    await db.transaction(async (tx) => {
      await tx.query('insert into t (name, payload) values ($1, $2)', [`v${i}`, { i, aliases: ['latest'] }]);
    });
  }
  const ms = performance.now() - t0;
  const syncs = fs.syncs - syncs0;
  await db.close();
  return { perCommitMs: ms / COMMITS, syncs };
}

const results: Record<string, number[]> = { durable: [], nofsync: [] };
let syncsPerCommit = 0;
for (let r = 0; r < ROUNDS; r++) {
  for (const durable of [true, false]) {
    const { perCommitMs, syncs } = await run(durable, r);
    results[durable ? 'durable' : 'nofsync'].push(perCommitMs);
    if (durable) syncsPerCommit = syncs / COMMITS;
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = (await import('node:os')).loadavg()[0].toFixed(1);
console.log(`${COMMITS} one-row commits × ${ROUNDS} rounds, load average ${load}`);
console.log(`fsync on (server):  median ${median(results.durable).toFixed(2)} ms/commit (${results.durable.map((x) => x.toFixed(2)).join(', ')}); ${syncsPerCommit.toFixed(2)} fsyncs/commit`);
console.log(`-F (fsync off):     median ${median(results.nofsync).toFixed(2)} ms/commit (${results.nofsync.map((x) => x.toFixed(2)).join(', ')})`);
rmSync(base, { recursive: true, force: true });
