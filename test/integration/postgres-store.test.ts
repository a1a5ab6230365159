/**
 * The PostgreSQL implementation of the Database seam, two instances (as two replicas) on one
 * real database; and how a team server refuses bad --db input. Runs in the team suite.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { isAmphoraError } from '../../src/core/errors.js';
import { LocalBlobStore } from '../../src/server/blobs/localBlobs.js';
import type { ServerEvent } from '../../src/core/api.js';
import { EventBus } from '../../src/server/events.js';
import { ReplicatedEventBus } from '../../src/server/replicaEvents.js';
import { collectGarbage } from '../../src/server/gc.js';
import { startServer } from '../../src/server/index.js';
import { ArtifactService } from '../../src/server/services/artifacts.js';
import { PostgresDatabase } from '../../src/server/store/postgres.js';
import { createTestDatabase, testCluster, type TestDatabase } from '../support/postgres.js';
import { TEAM_KEY } from '../support/replicas.js';
import { sha256, TEAM_DB, tempDir } from './server-helpers.js';
import { waitFor } from '../support/waitFor.js';

const ROOT = join(import.meta.dirname, '..', '..');

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}


/** A loopback TCP proxy to the test cluster that can be cut (every connection dropped) and restored. */
class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly target: number,
    public port: number,
  ) {}

  static async start(target: number): Promise<TcpProxy> {
    const p = new TcpProxy(target, 0);
    await p.restart();
    return p;
  }

  async restart(): Promise<void> {
    const server = createServer((down) => {
      const up = connect(this.target, '127.0.0.1');
      for (const s of [down, up]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.sockets.delete(s);
          down.destroy();
          up.destroy();
        });
      }
      down.pipe(up);
      up.pipe(down);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise((r) => server.close(r));
  }
}

describe('PostgreSQL store (the Database seam on a real PostgreSQL 15)', function () {
  if (!TEAM_DB) return void it.skip('team-mode test: runs in the team suite (AMPHORA_TEST_DB=postgres)');
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
    const gcHold = deferred();
    const gc = one.exclusive(async () => {
      order.push('gc start');
      await gcHold.promise;
      order.push('gc end');
    });
    // Seen from the database: a session waits for the advisory lock (asked on a third connection).
    const advisoryWaits = async () =>
      (await one.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`)).length > 0;
    await waitFor('GC to wait for the advisory lock', advisoryWaits, 5000);
    assert.equal(order.length, 0, 'GC must wait for the open transaction');
    hold.resolve();
    await waitFor('gc start', () => order.includes('gc start'));
    const later = two.transaction(async () => void order.push('tx2'));
    await waitFor('the next write transaction to wait for GC', advisoryWaits, 5000);
    assert.ok(!order.includes('tx2'), 'a write transaction must not start while GC runs');
    gcHold.resolve();
    await Promise.all([tx, gc, later]);
    assert.deepEqual(order, ['tx1 done', 'gc start', 'gc end', 'tx2']);
  });

  it("bumps generation when another instance commits (NOTIFY), so read caches drop what they hold", async () => {
    const g = two.generation;
    await one.transaction(async (tx) => tx.query(`UPDATE t SET n = n + 1 WHERE k = 'counter'`));
    await waitFor('two.generation to change', () => two.generation !== g, 1000);
  });

  it("events go out with their transaction's COMMIT: none before it, none for a rollback, and none lost when the replica dies right after it", async () => {
    const busOne = new ReplicatedEventBus(one);
    const busTwo = new ReplicatedEventBus(two);
    const seen: string[] = [];
    const unsubscribe = busTwo.subscribe((_frame, e) => e.type === 'run.updated' && seen.push(e.run.name));
    const event = (name: string): ServerEvent => ({
      type: 'run.updated',
      run: { id: name, name, entity: 'e', project: 'p', jobType: null, group: null, state: 'running', config: {}, summary: {}, tags: [], notes: null, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(), heartbeatAt: new Date().toISOString(), finishedAt: null },
    } as ServerEvent);
    try {
      await assert.rejects(
        one.transaction(async (tx) => {
          await busOne.stage(tx, [event('rolled-back')]);
          throw new Error('boom');
        }),
        /boom/,
      );
      const hold = deferred();
      const staged = deferred();
      const committed = one.transaction(async (tx) => {
        // A big one too (100 long tags): its body waits in event_payloads, written by the same transaction.
        const big = event('big');
        (big as { run: { tags: string[] } }).run.tags = Array.from({ length: 100 }, (_, i) => `${i}`.padEnd(100, 'x'));
        await busOne.stage(tx, [event('committed'), big]);
        staged.resolve();
        await hold.promise;
      });
      await staged.promise;
      // A sentinel committed while that transaction is still open: once the other replica has it,
      // anything announced before COMMIT (or by the rolled-back transaction) would have come too.
      await one.transaction(async (tx) => busOne.stage(tx, [event('sentinel')]));
      await waitFor('the sentinel on the other replica', () => seen.length >= 1, 2000);
      assert.deepEqual(seen, ['sentinel'], 'nothing is announced before COMMIT');
      hold.resolve();
      await committed;
      // The process would emit() now; it "dies" instead: the other replica has the events anyway.
      await waitFor('the committed events on the other replica', () => seen.length >= 3, 2000);
      assert.deepEqual(seen, ['sentinel', 'committed', 'big']);
    } finally {
      unsubscribe();
      await busOne.close();
      await busTwo.close();
    }
  });

  it('while its LISTEN connection is lost, generation changes on every read (nothing cacheable); it reconnects', async () => {
    const admin = new pg.Client({ connectionString: tdb.url });
    await admin.connect();
    try {
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`);
      await waitFor('the lost connection to be noticed', () => two.generation !== two.generation, 2000);
      // Reconnects within about a second; then generation is stable between writes again.
      await waitFor('reconnect', () => two.generation === two.generation, 5000);
      const g = two.generation;
      await one.transaction(async (tx) => tx.query('SELECT 1'));
      await waitFor('notifications again after reconnecting', () => two.generation !== g, 1000);
    } finally {
      await admin.end();
    }
  });

  it('a commit whose blobs a GC on another replica deleted after its check re-checks them and refuses (missing_blobs)', async () => {
    const folder = tempDir();
    const blobsA = new LocalBlobStore(folder);
    await blobsA.init();
    // Replica B's view of the same folder: between B's blob check and B's transaction, A collects garbage.
    class GcDuringFlush extends LocalBlobStore {
      override async flush(): Promise<void> {
        await super.flush();
        const r = await collectGarbage(one, blobsA, { graceSeconds: 0 });
        assert.equal(r.deletedBlobs, 1, 'the not-yet-referenced blob is collected');
      }
    }
    const blobsB = new GcDuringFlush(folder);
    const serviceB = new ArtifactService(two, blobsB, new EventBus());
    const bytes = Buffer.from('collected meanwhile');
    const digest = sha256(bytes);
    await blobsB.putBytes(digest, bytes);
    await assert.rejects(serviceB.commit('e', 'p', 'gc-race', { type: 'dataset', manifest: { 'a.txt': { digest, size: bytes.length } } }), (e: unknown) => {
      assert.ok(isAmphoraError(e) && e.code === 'missing_blobs', String(e));
      return true;
    });
    assert.equal((await one.query(`SELECT 1 FROM collections WHERE name = 'gc-race'`)).length, 0, 'nothing committed over a deleted blob');
  });

  it('a version edit locks the collection before the version, the order commits take (no deadlock with a re-log)', async () => {
    const blobs = new LocalBlobStore(tempDir());
    await blobs.init();
    const service = new ArtifactService(two, blobs, new EventBus());
    const bytes = Buffer.from('lock order');
    await blobs.putBytes(sha256(bytes), bytes);
    const { version } = await service.commit('e', 'p', 'locks', { type: 'dataset', manifest: { 'a.txt': { digest: sha256(bytes), size: bytes.length } } });
    const raw = new pg.Client({ connectionString: tdb.url });
    await raw.connect();
    try {
      // Stand in for a commit of the same content: it holds the collection row…
      await raw.query('BEGIN');
      await raw.query(`SELECT 1 FROM collections WHERE name = 'locks' FOR UPDATE`);
      const edit = service.update('e', 'p', 'locks', 'v0', { aliases: { add: ['best'] } });
      // (asked on another connection: pg_stat_activity is a snapshot within a transaction)
      const waiting = async () =>
        (await one.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'`)).length;
      const deadline = Date.now() + 5000;
      while (!(await waiting())) {
        if (Date.now() > deadline) throw new Error('the edit never waited for the collection lock');
        await new Promise((r) => setTimeout(r, 10));
      }
      // …and, moving an alias onto the version, needs its key share: the waiting edit must not hold it.
      await raw.query(`SELECT 1 FROM versions WHERE id = $1 FOR KEY SHARE NOWAIT`, [Number(version.id)]);
      await raw.query('COMMIT');
      assert.deepEqual((await edit).aliases, ['latest', 'best']);
    } finally {
      await raw.end();
    }
  });

  it('losing the database mid-transaction is a clear server_unreachable error, not a crash; it reconnects when the database is back', async () => {
    const c = await testCluster();
    const proxy = await TcpProxy.start(c.port);
    const viaProxy = await PostgresDatabase.open(tdb.url.replace(`:${c.port}/`, `:${proxy.port}/`));
    try {
      assert.equal((await viaProxy.query<{ n: number }>('SELECT 1 AS n'))[0].n, 1);
      await assert.rejects(
        viaProxy.transaction(async (tx) => {
          await tx.query('SELECT 1');
          await proxy.stop(); // the database disappears while this transaction holds a connection
          await new Promise((r) => setTimeout(r, 100));
          await tx.query('SELECT 1');
        }),
        (e: unknown) => {
          assert.ok(isAmphoraError(e) && e.code === 'server_unreachable', String(e));
          assert.match(e.message, /database \(PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/\w+\) cannot be reached right now.*Send it again/);
          return true;
        },
      );
      await assert.rejects(viaProxy.query('SELECT 1'), (e: unknown) => isAmphoraError(e) && e.code === 'server_unreachable');
      await proxy.restart();
      assert.equal((await viaProxy.query<{ n: number }>('SELECT 2 AS n'))[0].n, 2);
      await viaProxy.transaction(async (tx) => tx.query('SELECT 1'));
    } finally {
      await viaProxy.close();
      await proxy.stop();
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
  if (!TEAM_DB) return void it.skip('team-mode test: runs in the team suite (AMPHORA_TEST_DB=postgres)');
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

  it('names what is wrong: scheme, unreachable server, unknown user, missing database', async () => {
    const c = await testCluster();
    await refuses('mysql://x@127.0.0.1/db', /postgres:\/\/USER:PASSWORD@HOST:PORT\/DATABASE/);
    await refuses('postgres://x:s3cret@127.0.0.1:1/db', /Cannot reach PostgreSQL at postgres:\/\/x:\*\*\*@127\.0\.0\.1:1\/db/);
    await refuses(`postgres://nobody:s3cret@127.0.0.1:${c.port}/postgres`, /refused user "nobody"/);
    await refuses(`postgres://postgres@127.0.0.1:${c.port}/no_such_db`, /no database "no_such_db"; create it first/);
    await refuses(`postgres://postgres@127.0.0.1:${c.port}`, /names no database/);
    // Nothing half-created: the missing database still does not exist.
    const admin = new pg.Client({ connectionString: c.url('postgres') });
    await admin.connect();
    try {
      assert.equal((await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'no_such_db'`)).rowCount, 0);
    } finally {
      await admin.end();
    }
  });

  it('without AMPHORA_BOOTSTRAP_KEY: of replicas starting together on an empty database exactly one creates "admin" and prints its new key (SPEC 5)', async () => {
    const tdb = await createTestDatabase();
    const saved = process.env.AMPHORA_BOOTSTRAP_KEY;
    delete process.env.AMPHORA_BOOTSTRAP_KEY;
    const servers: Awaited<ReturnType<typeof startServer>>[] = [];
    try {
      const blobs = `file:${tempDir()}`;
      servers.push(...(await Promise.all([1, 2, 3].map(() => startServer({ db: tdb.url, blobs, port: 0, quiet: true })))));
      const keys = servers.map((s) => s.generatedAdminKey).filter((k): k is string => !!k);
      assert.equal(keys.length, 1, 'one replica made the admin key');
      for (const s of servers) {
        const r = await fetch(`${s.url}/api/v1/viewer`, { headers: { authorization: `Bearer ${keys[0]}` } });
        assert.equal(r.status, 200, 'the key works on every replica');
        const v = (await r.json()) as { user: string; siteAdmin: boolean };
        assert.equal(v.user, 'admin');
        assert.equal(v.siteAdmin, true);
      }
      const db = new pg.Client({ connectionString: tdb.url });
      await db.connect();
      try {
        assert.equal((await db.query(`SELECT count(*)::int AS n FROM users`)).rows[0].n, 1);
        assert.equal((await db.query(`SELECT count(*)::int AS n FROM api_keys`)).rows[0].n, 1);
      } finally {
        await db.end();
      }
      // A restart, now with a bootstrap key: users exist, so nothing is made and that key is no admin key.
      for (const s of servers.splice(0)) await s.close();
      process.env.AMPHORA_BOOTSTRAP_KEY = TEAM_KEY;
      const again = await startServer({ db: tdb.url, blobs, port: 0, quiet: true });
      servers.push(again);
      assert.equal(again.generatedAdminKey, undefined);
      assert.equal((await fetch(`${again.url}/api/v1/viewer`, { headers: { authorization: `Bearer ${TEAM_KEY}` } })).status, 401);
    } finally {
      for (const s of servers) await s.close().catch(() => undefined);
      if (saved === undefined) delete process.env.AMPHORA_BOOTSTRAP_KEY;
      else process.env.AMPHORA_BOOTSTRAP_KEY = saved;
      await tdb.drop();
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

  it('amphora serve --db: a bad database is one line and exit 3; a good one serves in team mode until Ctrl-C', async () => {
    const c = await testCluster();
    const env = { ...process.env, AMPHORA_BOOTSTRAP_KEY: TEAM_KEY };
    const bad = spawnSync(process.execPath, [join(ROOT, 'dist', 'cli.mjs'), 'serve', '--db', `postgres://postgres@127.0.0.1:${c.port}/no_such_db`, '--blobs', `file:${tempDir()}`, '--port', '0'], { encoding: 'utf8', env, timeout: 30_000 });
    assert.equal(bad.status, 3, bad.stderr);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr, /no database "no_such_db"/);
    const tdb = await createTestDatabase();
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli.mjs'), '--json', 'serve', '--db', tdb.url, '--blobs', `file:${tempDir()}`, '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      // --json output is one (pretty-printed) JSON document
      const line = await new Promise<string>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
        let buf = '';
        child.stdout!.on('data', (d) => {
          buf += d;
          try {
            JSON.parse(buf);
            resolve(buf);
          } catch {
            /* not complete yet */
          }
        });
      });
      const info = JSON.parse(line) as { url: string; mode: string; dataDir?: string };
      assert.equal(info.mode, 'team');
      assert.equal(info.dataDir, undefined, 'no data dir in team mode');
      const health = (await (await fetch(`${info.url}/api/v1/health`)).json()) as { mode: string };
      assert.equal(health.mode, 'team');
      const viewer = await fetch(`${info.url}/api/v1/viewer`, { headers: { authorization: `Bearer ${TEAM_KEY}` } });
      assert.equal(viewer.status, 200);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGINT');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await tdb.drop();
    }
  });
});
