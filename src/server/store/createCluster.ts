import { spawn } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AmphoraError } from '../../core/errors.js';
import { syncPath } from './syncTree.js';

const TEMP_PREFIX = '.initdb-';

/** Test hook read by the child (initdbMain.ts): it fails after writing part of a cluster. */
export const INITDB_FAIL_ENV = 'AMPHORA_TEST_INITDB_CHILD_FAIL';

/**
 * Creates the PGlite cluster `dir` in a short-lived child process: initdb grows the WASM heap
 * to ~800 MB and that memory is never returned to the OS, so doing it in the serving process
 * leaves the first start idling at ~650 MB instead of ~310 MB. The child writes into a temp
 * folder beside `dir` (inside the data dir, whose lock the caller holds) that is renamed into
 * place only once complete, so a failure never leaves a half-created cluster.
 */
export async function createClusterInChild(dir: string): Promise<void> {
  const parent = dirname(dir);
  removeLeftovers(parent, basename(dir));
  if (existsSync(dir)) {
    if (readdirSync(dir).length > 0) {
      throw new AmphoraError('internal', `The database folder ${dir} exists but holds no PostgreSQL cluster (no PG_VERSION). Move it away or delete it, then start the server again.`);
    }
    rmdirSync(dir);
  }
  const temp = join(parent, `${TEMP_PREFIX}${basename(dir)}-${process.pid}`);
  try {
    await runChild(temp);
    if (!existsSync(join(temp, 'PG_VERSION'))) throw new AmphoraError('internal', `Creating the database in ${temp} finished without a PG_VERSION file. Start the server again; if it keeps failing, report it.`);
    renameSync(temp, dir);
    // The child synced the cluster's files; this makes its new name durable.
    syncPath(parent);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

/** Temp folders of a create that crashed earlier; safe to delete because the caller holds the data-dir lock. */
function removeLeftovers(parent: string, name: string): void {
  if (!existsSync(parent)) return;
  for (const entry of readdirSync(parent)) {
    if (entry.startsWith(`${TEMP_PREFIX}${name}-`)) rmSync(join(parent, entry), { recursive: true, force: true });
  }
}

/**
 * The child runs with this process's Node (VS Code's Electron under ELECTRON_RUN_AS_NODE=1,
 * inherited with the rest of the env): the bundled initdb.mjs beside this bundle, or the
 * TypeScript entry through tsx when running from source (tests).
 */
function childCommand(temp: string): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return ['--import', 'tsx', join(dirname(here), 'initdbMain.ts'), temp];
  return [join(dirname(here), 'initdb.mjs'), temp];
}

function runChild(temp: string): Promise<void> {
  const args = childCommand(temp);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { env: process.env, stdio: ['ignore', 'ignore', 'pipe'], windowsHide: true });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    const fail = (what: string) =>
      reject(
        new AmphoraError(
          'internal',
          `Creating the database (initdb in a child process: ${process.execPath} ${args.join(' ')}) failed: ${what}.` +
            (stderr.trim() ? `\nIts last output:\n${tail(stderr)}` : '') +
            `\nNothing was left behind; check free disk space and permissions on ${dirname(temp)}, then start the server again.`,
        ),
      );
    child.on('error', (e) => fail(e.message));
    child.on('close', (code, signal) => (code === 0 ? resolvePromise() : fail(signal ? `killed by ${signal}` : `exit code ${code}`)));
  });
}

function tail(text: string): string {
  return text.trim().split('\n').slice(-12).join('\n');
}
