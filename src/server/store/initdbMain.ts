/**
 * Child-process entry that only creates a PGlite cluster: `node dist/initdb.mjs <dir>`.
 * initdb grows the WASM heap to ~800 MB and a process never gives that back, so the serving
 * process lets this short-lived one do it (see createCluster.ts).
 */
import { PGlite } from '@electric-sql/pglite';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { INITDB_FAIL_ENV } from './createCluster.js';
import { startParams } from './pgliteParams.js';
import { PrivateNodeFS } from './privateNodeFs.js';
import { syncTree } from './syncTree.js';

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: initdb <cluster dir>');
  if (process.env[INITDB_FAIL_ENV] === '1') {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'PG_VERSION'), '17\n');
    throw new Error(`simulated initdb failure (${INITDB_FAIL_ENV}=1)`);
  }
  // PGlite's initdb and first start run with fsync off (-F): the cluster it leaves may sit in the
  // page cache only. Every file and folder is synced before the parent renames it into place, so a
  // power cut after the first start cannot lose the database the server then acknowledges commits in.
  await (await PGlite.create({ fs: new PrivateNodeFS(dir), startParams: startParams(PGlite.defaultStartParams) })).close();
  syncTree(dir);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`initdb failed: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
