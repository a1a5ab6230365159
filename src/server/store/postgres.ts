import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { AmphoraError } from '../../core/errors.js';
import type { Database, Queryable, Row } from './database.js';
import { migrate } from './migrations.js';

/** Advisory lock keys (pg_advisory_lock takes one bigint); arbitrary but fixed for every replica. */
const MIGRATION_LOCK = 7_411_001;
/** Held shared by every write transaction and exclusively by `exclusive` (GC). */
const EXCLUSIVE_LOCK = 7_411_002;
/** A committed write anywhere invalidates every replica's read caches. */
export const INVALIDATE_CHANNEL = 'amphora_invalidate';
const LISTEN_RETRY_MS = 1000;

type NotificationHandler = (payload: string) => void;

/**
 * Team store: a `pg` pool on a shared PostgreSQL. Transactions run concurrently and rely on row
 * locks (`SELECT … FOR UPDATE` of the collection row keeps vN contiguous); `exclusive` is an
 * advisory lock that write transactions take shared, so GC on any replica sees no write in
 * flight anywhere. Every commit NOTIFYs the other replicas, which bump `generation` so their read
 * caches drop what they hold; while that LISTEN connection is down, `generation` changes on every
 * read, so nothing is cached that could go stale unnoticed.
 */
export class PostgresDatabase implements Database {
  /** Tells this replica's own notifications apart from the others'. */
  readonly replicaId = randomBytes(8).toString('hex');
  private gen = 0;
  private listener: pg.Client | undefined;
  private listening = false;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly handlers = new Map<string, Set<NotificationHandler>>();

  private constructor(
    private readonly pool: pg.Pool,
    private readonly config: pg.ClientConfig,
    /** For messages: the URL without its password. */
    private readonly where: string,
  ) {
    this.handlers.set(INVALIDATE_CHANNEL, new Set([(from) => from !== this.replicaId && this.gen++]));
  }

  get generation(): number {
    return this.listening ? this.gen : ++this.gen;
  }

  /**
   * Connects (one clear error for a bad URL, an unreachable server, refused credentials or a
   * missing database), migrates under an advisory lock so replicas starting together migrate
   * once, and starts listening for the other replicas' notifications.
   */
  static async open(url: string, opts: { poolSize?: number } = {}): Promise<PostgresDatabase> {
    const config: pg.ClientConfig = {
      connectionString: url,
      connectionTimeoutMillis: 10_000,
      application_name: 'amphora',
      // PGlite returns int8 as a number; ids and sizes stay far below 2^53.
      types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? Number : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser },
    };
    const pool = new pg.Pool({ ...config, max: opts.poolSize ?? 20, idleTimeoutMillis: 30_000 });
    // A client that loses its connection emits 'error': idle ones through the pool, checked-out
    // ones on themselves, where an unheard 'error' would end the process. Their queries fail
    // anyway (answered 503), and the pool drops dead clients on release and reconnects.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    const store = new PostgresDatabase(pool, config, redactUrl(url));
    try {
      await pool.query('SELECT 1').catch((e: unknown) => {
        throw connectError(url, e);
      });
      await store.withSessionLock(MIGRATION_LOCK, () => migrate(store));
      await store.startListening();
    } catch (e) {
      await store.close().catch(() => undefined);
      throw e;
    }
    return store;
  }

  async query<T extends object = Row>(sql: string, params: unknown[] = []): Promise<T[]> {
    try {
      return (await this.pool.query<T>(sql, params)).rows;
    } catch (e) {
      throw this.translate(e);
    }
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      await client.query(`BEGIN; SELECT pg_advisory_xact_lock_shared(${EXCLUSIVE_LOCK})`).catch((e: Error) => {
        broken = e;
        throw this.translate(e);
      });
      let result: T;
      try {
        result = await fn(queryable(client));
      } catch (e) {
        await client.query('ROLLBACK').catch((re: Error) => (broken = re));
        throw this.translate(e);
      }
      // The notification is delivered at COMMIT, together with the data it announces.
      await client.query(`SELECT pg_notify('${INVALIDATE_CHANNEL}', '${this.replicaId}'); COMMIT`).catch((e: Error) => {
        broken = e;
        throw this.translate(e);
      });
      return result;
    } finally {
      this.gen++;
      client.release(broken);
    }
  }

  async exclusive<T>(fn: (db: Queryable) => Promise<T>): Promise<T> {
    try {
      return await this.withSessionLock(EXCLUSIVE_LOCK, async (client) => fn(queryable(client)));
    } finally {
      this.gen++;
      await this.pool.query(`SELECT pg_notify('${INVALIDATE_CHANNEL}', $1)`, [this.replicaId]).catch(() => undefined);
    }
  }

  async exec(sql: string): Promise<void> {
    await this.query(sql);
  }

  /** Sends `payload` (≤ 8000 bytes, PostgreSQL's limit) to every replica listening on `channel`. */
  async notify(channel: string, payload: string): Promise<void> {
    await this.query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  /** Calls `fn` for every notification on `channel`, from any replica including this one. */
  onNotification(channel: string, fn: NotificationHandler): () => void {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      if (this.listening) void this.listener?.query(`LISTEN ${pgIdent(channel)}`).catch(() => undefined);
    }
    set.add(fn);
    return () => set.delete(fn);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listening = false;
    clearTimeout(this.retry);
    await this.listener?.end().catch(() => undefined);
    await this.pool.end();
  }

  /** Runs `fn` on one connection holding session advisory lock `key`; ending the session frees it. */
  private async withSessionLock<T>(key: number, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      await client.query('SELECT pg_advisory_lock($1)', [key]);
      try {
        return await fn(client);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [key]).catch((e: Error) => (broken = e));
      }
    } finally {
      client.release(broken);
    }
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (e) {
      throw this.translate(e);
    }
  }

  /**
   * A lost database is 503 server_unreachable with what to do, not a 500; deadlocks and
   * serialization failures are another writer's doing: 409, the caller may simply retry.
   */
  private translate(e: unknown): unknown {
    const err = e as { code?: string; message?: string };
    const code = err?.code ?? '';
    if (code === '40P01' || code === '40001') {
      return new AmphoraError('conflict', 'Another request changed the same artifact at the same moment and this one was rolled back; nothing was changed. Send it again.');
    }
    if (CONNECTION_ERRNOS.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code) || /Connection terminated|not queryable|timeout exceeded when trying to connect/i.test(err?.message ?? '')) {
      return new AmphoraError(
        'server_unreachable',
        `The server's database (PostgreSQL at ${this.where}) cannot be reached right now (${code || err.message}); this request may not have completed. Send it again shortly (a repeated commit of the same content makes no second version); if it persists, check the database server.`,
      );
    }
    return e;
  }

  private async startListening(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on('notification', (n) => {
      for (const fn of this.handlers.get(n.channel) ?? []) fn(n.payload ?? '');
    });
    client.on('error', () => this.lostListener(client));
    client.on('end', () => this.lostListener(client));
    await client.connect();
    for (const channel of this.handlers.keys()) await client.query(`LISTEN ${pgIdent(channel)}`);
    this.listener = client;
    this.listening = true;
    // Anything committed while we were not listening is unknown: start caches afresh.
    this.gen++;
  }

  private lostListener(client: pg.Client): void {
    if (this.listener !== client) return;
    this.listener = undefined;
    this.listening = false;
    client.end().catch(() => undefined);
    if (this.closed) return;
    const again = () => {
      this.retry = undefined;
      if (this.closed) return;
      this.startListening().catch(() => {
        this.retry = setTimeout(again, LISTEN_RETRY_MS);
        this.retry.unref();
      });
    };
    this.retry = setTimeout(again, LISTEN_RETRY_MS);
    this.retry.unref();
  }
}

function queryable(client: pg.PoolClient): Queryable {
  return { query: async <R extends object>(sql: string, params: unknown[] = []) => (await client.query<R>(sql, params)).rows };
}

function pgIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`invalid channel name ${name}`);
  return name;
}

const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

function connectError(url: string, e: unknown): AmphoraError {
  const err = e as { code?: string; message?: string };
  const where = redactUrl(url);
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    // reported below
  }
  const user = decodeURIComponent(u?.username || process.env.PGUSER || 'the default user');
  const db = decodeURIComponent(u?.pathname.slice(1) || user);
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
      return new AmphoraError('server_unreachable', `Cannot reach PostgreSQL at ${where} (${err.code}); check the host and port, and that the database server is running and accepts TCP connections.`);
    case '28P01':
    case '28000':
      return new AmphoraError('unauthorized', `PostgreSQL at ${where} refused user "${user}": ${err.message}. Check the user and password in --db / AMPHORA_DB_URL.`);
    case '3D000':
      return new AmphoraError('not_found', `PostgreSQL at ${where} has no database "${db}"; create it first (createdb ${db}, or CREATE DATABASE) and start again.`);
  }
  if (/timeout/i.test(err.message ?? '')) {
    return new AmphoraError('server_unreachable', `PostgreSQL at ${where} did not answer within 10 s; check the host, port and firewall.`);
  }
  return new AmphoraError('server_unreachable', `Cannot connect to PostgreSQL at ${where}: ${err.message ?? String(e)}.`);
}
