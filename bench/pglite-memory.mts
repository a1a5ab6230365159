/**
 * Idle RSS of a process that opens an existing PGlite cluster, per setting, each in its own fresh
 * process (a process never gives WASM memory back, so settings cannot share one).
 *   npx tsx bench/pglite-memory.mts DATA_DIR/db      (the cluster of a stopped server)
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// initialMemory cannot go below PGlite's own 128 MiB (its WASM module declares 2,048 pages as
// its minimum: "memory import 0 is smaller than initial 2048"), so only Postgres settings vary.
const variants: Record<string, { startParams?: string[] }> = {
  default: {},
  'shared_buffers=32MB': { startParams: ['-c', 'shared_buffers=32MB'] },
  'shared_buffers=16MB': { startParams: ['-c', 'shared_buffers=16MB'] },
  'shared_buffers=8MB': { startParams: ['-c', 'shared_buffers=8MB'] },
  'shared_buffers=16MB, wal_buffers=1MB, temp_buffers=1MB': { startParams: ['-c', 'shared_buffers=16MB', '-c', 'wal_buffers=1MB', '-c', 'temp_buffers=1MB'] },
};

const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

if (process.argv[2] === '--child') {
  const { PGlite } = await import('@electric-sql/pglite');
  const v = variants[process.argv[4]];
  const base = rssMiB();
  const startParams = v.startParams ? [...PGlite.defaultStartParams, ...v.startParams] : undefined;
  const db = await PGlite.create(process.argv[3], startParams ? { startParams } : {});
  const opened = rssMiB();
  const sb = (await db.query<{ shared_buffers: string }>('show shared_buffers')).rows[0].shared_buffers;
  // A representative read: every table's row count.
  const tables = (await db.query<{ t: string }>("select tablename as t from pg_tables where schemaname = 'public'")).rows;
  for (const { t } of tables) await db.query(`select count(*) from "${t}"`);
  await new Promise((r) => setTimeout(r, 1500));
  console.log(JSON.stringify({ base, opened, idle: rssMiB(), sharedBuffers: sb }));
  await db.close();
  process.exit(0);
}

const dir = process.argv[2];
if (!dir) throw new Error('usage: npx tsx bench/pglite-memory.mts <cluster dir>');
const self = fileURLToPath(import.meta.url);
console.log('setting | RSS before open | after open | idle after queries | shared_buffers');
for (const name of Object.keys(variants)) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', dir, name], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.log(`${name} | failed: ${r.stderr.slice(-300)}`);
    continue;
  }
  const m = JSON.parse(r.stdout.trim().split('\n').pop()!);
  console.log(`${name} | ${m.base.toFixed(0)} MiB | ${m.opened.toFixed(0)} MiB | ${m.idle.toFixed(0)} MiB | ${m.sharedBuffers}`);
}
