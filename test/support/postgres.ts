/**
 * A throwaway PostgreSQL 15 cluster for tests: initdb + pg_ctl in a temp dir on a free loopback
 * port, one per test process (started on first use), a fresh database per caller, everything
 * stopped and removed when the process exits. PostgreSQL refuses to run as root, so as root the
 * binaries run as the `postgres` system user (CI runs as root); otherwise as the current user.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { freePort } from './freePort.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
export const PG_BIN = process.env.AMPHORA_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** True when the team-mode integration suite runs (`AMPHORA_TEST_DB=postgres`). */
export const TEAM_DB = process.env.AMPHORA_TEST_DB === 'postgres';

export interface PgCluster {
  port: number;
  dir: string;
  /** Superuser URL of database `db`. */
  url(db: string): string;
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

let cluster: Promise<PgCluster> | undefined;

export function pgAvailable(): boolean {
  return existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl'));
}

function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

async function startCluster(): Promise<PgCluster> {
  if (!pgAvailable()) {
    throw new Error(`PostgreSQL 15 is not installed (no ${PG_BIN}/initdb): run "bash scripts/setup.sh" (it installs Debian's postgresql), or set AMPHORA_PG_BIN.`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'amphora-pg-'));
  chmodSync(dir, 0o700);
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const port = await freePort();
  const stop = () => {
    try {
      const [cmd, args] = asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
      execFileSync(cmd, args, { stdio: 'ignore', timeout: 20_000 });
    } catch {
      // not running
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  // A test process killed by a signal (a CI timeout) emits no 'exit': stop the cluster first.
  for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      stop();
      process.exit(128 + (signal === 'SIGTERM' ? 15 : 1));
    });
  }
  try {
    const [initdb, initArgs] = asPostgres(join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C']);
    await run(initdb, initArgs, { cwd: dir });
    // fsync off: a test cluster is thrown away, and it is several times faster on a shared disk.
    const opts = `-p ${port} -k ${dir} -h 127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`;
    const [pgctl, ctlArgs] = asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', 'start']);
    await run(pgctl, ctlArgs, { cwd: dir });
  } catch (e) {
    stop();
    throw new Error(`Could not start a test PostgreSQL cluster in ${dir}: ${(e as Error).message}`);
  }
  return { port, dir, url: (db) => `postgres://postgres@127.0.0.1:${port}/${db}` };
}

/** The process-wide test cluster, started on first use. */
export function testCluster(): Promise<PgCluster> {
  cluster ??= startCluster();
  return cluster;
}

/** A new empty database in the test cluster; drop() removes it (closing its connections). */
export async function createTestDatabase(prefix = 'amphora_t'): Promise<TestDatabase> {
  const c = await testCluster();
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: c.url('postgres') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: c.url(name),
    name,
    async drop() {
      const a = new pg.Client({ connectionString: c.url('postgres') });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}
