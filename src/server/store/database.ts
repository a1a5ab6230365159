/**
 * The SQL seam of the server. Services speak PostgreSQL through this interface; the embedded
 * implementation is PGlite (one WASM Postgres in the data dir), and a `pg` pool can implement
 * the same interface for team mode without touching the services.
 */
export type Row = Record<string, unknown>;

export interface Queryable {
  query<T extends object = Row>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface Database extends Queryable {
  /** Bumped whenever a transaction may have changed data; read caches compare against it. */
  readonly generation: number;
  /** Runs `fn` in one transaction; transactions never interleave with each other. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs `fn` with no other database work in flight (used by GC to decide and delete atomically). */
  exclusive<T>(fn: (db: Queryable) => Promise<T>): Promise<T>;
  /** Multi-statement SQL without parameters (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}
