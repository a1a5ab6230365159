import { ServerEvent } from '../core/api.js';
import type { Database, Queryable } from './store/database.js';

/** One event as sent on the wire: the SSE `data:` block, serialized once for every subscriber. */
export type Listener = (frame: string, e: ServerEvent) => void;

/** In-process fan-out of server events to SSE subscribers; ReplicatedEventBus adds the other replicas. */
export class EventBus {
  private readonly listeners = new Set<Listener>();

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Inside the write transaction that makes `events` happen: replicas learn of them when (and
   * only if) it commits. One process has no other replicas: nothing to do.
   */
  async stage(_tx: Queryable, _events: ServerEvent[]): Promise<void> {}

  /**
   * Runs `body` in one transaction of `db`: the events it gathers are staged inside that
   * transaction and announced once it committed (none when it rolls back).
   */
  async inTransaction<T>(db: Database, body: (tx: Queryable, events: ServerEvent[]) => Promise<T>): Promise<T> {
    const events: ServerEvent[] = [];
    const result = await db.transaction(async (tx) => {
      const out = await body(tx, events);
      await this.stage(tx, events);
      return out;
    });
    this.emit(events);
    return result;
  }

  /** Announces events that happened on this server, once their transaction committed. */
  emit(events: ServerEvent[]): void {
    this.deliver(slim(events));
  }

  /** Hands events to this process's subscribers only, each serialized once. */
  protected deliver(events: ServerEvent[]): void {
    if (!this.listeners.size) return;
    for (const e of events) {
      const frame = `data: ${JSON.stringify(e)}\n\n`;
      for (const fn of this.listeners) fn(frame, e);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  get size(): number {
    return this.listeners.size;
  }
}

/**
 * Parsing through the wire schema drops what events must not carry (metadata, description,
 * config, summary), whatever object a service handed in.
 */
export function slim(events: ServerEvent[]): ServerEvent[] {
  return events.map((e) => ServerEvent.parse(e));
}
