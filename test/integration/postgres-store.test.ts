/**
 * The PostgreSQL implementation of the Database seam, two instances (as two replicas) on one
 * real database; and how a team server refuses bad --db input. Runs in the integration-pg suite.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { isAmphoraError } from '../../src/core/errors.js';
import { startServer } from '../../src/server/index.js';
import { PostgresDatabase } from '../../src/server/store/postgres.js';
import { createTestDatabase, testCluster, type TestDatabase } from '../support/postgres.js';
import { TEAM_KEY } from '../support/replicas.js';
import { TEAM_DB, tempDir } from './server-helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function waitUntil(what: string, fn: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('PostgreSQL store (the Database seam on a real PostgreSQL 15)', function () {
  if (!TEAM_DB) return void it.skip('team-mode test: runs in the integration-pg suite (AMPHORA_TEST_DB=postgres)');
  this.timeout(60_000);
  let tdb: TestDatabase;
  let one: PostgresDatabase;
  let two: PostgresDatabase;
  before(async () => {
    tdb = await createTestDatabase();
    [one, two] = await Promise.all([PostgresDatabase.open(tdb.url), PostgresDatabase.open(tdb.url)]);
    await one.exec('CREATE TABLE t (k text PRIMARY KEY, n integer NOT NULL)');
  });
  after(async () => {
    await one?.close();
    await two?.close();
    await tdb?.drop();
  });

  it('runs transactions side by side (no process-wide mutex): a second one commits while the first is open', async () => {
    const hold = deferred();
    const inside = deferred();
    const first = one.transaction(async (tx) => {
      await tx.query(`INSERT INTO t VALUES ('first', 1)`);
      inside.resolve();
      await hold.promise;
    });
    await inside.promise;
    await one.transaction(async (tx) => tx.query(`INSERT INTO t VALUES ('second', 2)`));
    assert.deepEqual((await one.query<{ k: string }>('SELECT k FROM t ORDER BY k')).map((r) => r.k), ['second'], 'the open one is not visible yet');
    hold.resolve();
    await first;
    assert.deepEqual((await two.query<{ k: string }>('SELECT k FROM t ORDER BY k')).map((r) => r.k), ['first', 'second']);
  });

  it('rolls a failed transaction back and returns the connection to the pool', async () => {
    await assert.rejects(
      one.transaction(async (tx) => {
        await tx.query(`INSERT INTO t VALUES ('rolled', 1)`);
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal((await one.query(`SELECT 1 FROM t WHERE k = 'rolled'`)).length, 0);
    for (let i = 0; i < 30; i++) await one.transaction(async (tx) => tx.query('SELECT 1')); // more than the pool holds
  });

  it('serializes writers of one row across instances with FOR UPDATE (counter stays exact)', async () => {
    await one.query(`INSERT INTO t VALUES ('counter', 0)`);
    const bump = (db: PostgresDatabase) =>
      db.transaction(async (tx) => {
        const n = (await tx.query<{ n: number }>(`SELECT n FROM t WHERE k = 'counter' FOR UPDATE`))[0].n;
        await new Promise((r) => setTimeout(r, 2));
        await tx.query(`UPDATE t SET n = $1 WHERE k = 'counter'`, [n + 1]);
      });
    await Promise.all(Array.from({ length: 40 }, (_, i) => bump(i % 2 ? two : one)));
    assert.equal((await one.query<{ n: number }>(`SELECT n FROM t WHERE k = 'counter'`))[0].n, 40);
  });

  it('exclusive (GC) on one instance waits for write transactions of the other, and holds new ones off', async () => {
    const order: string[] = [];
    const hold = deferred();
    const inside = deferred();
    const tx = two.transaction(async () => {
      inside.resolve();
      await hold.promise;
      order.push('tx1 done');
    });
    await inside.promise;
    const gc = one.exclusive(async () => {
      order.push('gc start');
      await new Promise((r) => setTimeout(r, 150));
      order.push('gc end');
    });
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(order.length, 0, 'GC must wait for the open transaction');
    hold.resolve();
    await waitUntil('gc start', () => order.includes('gc start'));
    const later = two.transaction(async () => void order.push('tx2'));
    await Promise.all([tx, gc, later]);
    assert.deepEqual(order, ['tx1 done', 'gc start', 'gc end', 'tx2']);
  });

  it("bumps generation when another instance commits (NOTIFY), so read caches drop what they hold", async () => {
    const g = two.generation;
    await one.transaction(async (tx) => tx.query(`UPDATE t SET n = n + 1 WHERE k = 'counter'`));
    await waitUntil('two.generation to change', () => two.generation !== g, 1000);
  });

  it('while its LISTEN connection is lost, generation changes on every read (nothing cacheable); it reconnects', async () => {
    const admin = new pg.Client({ connectionString: tdb.url });
    await admin.connect();
    try {
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`);
      await waitUntil('the lost connection to be noticed', () => two.generation !== two.generation, 2000);
      // Reconnects within about a second; then generation is stable between writes again.
      await waitUntil('reconnect', () => two.generation === two.generation, 5000);
      const g = two.generation;
      await one.transaction(async (tx) => tx.query('SELECT 1'));
      await waitUntil('notifications again after reconnecting', () => two.generation !== g, 1000);
    } finally {
      await admin.end();
    }
  });

  it('a second open of a migrated database changes nothing (migrations ran once)', async () => {
    const three = await PostgresDatabase.open(tdb.url);
    await three.close();
    const steps = await one.query<{ step: number }>('SELECT step FROM schema_migrations ORDER BY step');
    assert.deepEqual(steps.map((s) => s.step), [...Array(steps.length).keys()]);
  });
});

describe('team server: bad --db input', function () {
  if (!TEAM_DB) return void it.skip('team-mode test: runs in the integration-pg suite (AMPHORA_TEST_DB=postgres)');
  this.timeout(60_000);

  const refuses = async (db: string, pattern: RegExp, env: Record<string, string | undefined> = { AMPHORA_BOOTSTRAP_KEY: TEAM_KEY }) => {
    const saved = process.env.AMPHORA_BOOTSTRAP_KEY;
    if (env.AMPHORA_BOOTSTRAP_KEY === undefined) delete process.env.AMPHORA_BOOTSTRAP_KEY;
    else process.env.AMPHORA_BOOTSTRAP_KEY = env.AMPHORA_BOOTSTRAP_KEY;
    try {
      await assert.rejects(startServer({ db, blobs: `file:${tempDir()}`, port: 0, quiet: true }), (e: unknown) => {
        assert.ok(isAmphoraError(e), String(e));
        assert.match(e.message, pattern);
        assert.doesNotMatch(e.message, /s3cret/, 'no password in messages');
        return true;
      });
    } finally {
      if (saved === undefined) delete process.env.AMPHORA_BOOTSTRAP_KEY;
      else process.env.AMPHORA_BOOTSTRAP_KEY = saved;
    }
  };

  it('names what is wrong: scheme, unreachable server, unknown user, missing database, missing key', async () => {
    const c = await testCluster();
    await refuses('mysql://x@127.0.0.1/db', /postgres:\/\/USER:PASSWORD@HOST:PORT\/DATABASE/);
    await refuses('postgres://x:s3cret@127.0.0.1:1/db', /Cannot reach PostgreSQL at postgres:\/\/x:\*\*\*@127\.0\.0\.1:1\/db/);
    await refuses(`postgres://nobody:s3cret@127.0.0.1:${c.port}/postgres`, /refused user "nobody"/);
    await refuses(`postgres://postgres@127.0.0.1:${c.port}/no_such_db`, /no database "no_such_db"; create it first/);
    await refuses(`postgres://postgres@127.0.0.1:${c.port}`, /names no database/);
    await refuses(c.url('postgres'), /needs AMPHORA_BOOTSTRAP_KEY/, { AMPHORA_BOOTSTRAP_KEY: undefined });
    // Nothing half-created: the missing database still does not exist.
    const admin = new pg.Client({ connectionString: c.url('postgres') });
    await admin.connect();
    try {
      assert.equal((await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'no_such_db'`)).rowCount, 0);
    } finally {
      await admin.end();
    }
  });

  it('the server process prints one clear line and exits non-zero', async () => {
    const c = await testCluster();
    const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'server.mjs'), '--db', `postgres://postgres@127.0.0.1:${c.port}/no_such_db`, '--blobs', `file:${tempDir()}`, '--port', '0'], {
      encoding: 'utf8',
      env: { ...process.env, AMPHORA_BOOTSTRAP_KEY: TEAM_KEY },
      timeout: 30_000,
    });
    assert.notEqual(r.status, 0);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^amphora server: PostgreSQL at .* has no database "no_such_db"/);
  });
});
