import { z } from 'zod';
import { ServerEvent } from '../core/api.js';
import { EventBus, slim } from './events.js';
import type { Queryable } from './store/database.js';
import type { PostgresDatabase } from './store/postgres.js';

export const EVENTS_CHANNEL = 'amphora_events';
/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; leave room for the envelope. */
const MAX_INLINE_BYTES = 7500;
/** Oversized events wait this long in event_payloads for the other replicas to fetch them. */
const PAYLOAD_KEEP_MINUTES = 10;

/** What one NOTIFY carries: events inline, or ids of event_payloads rows too big to inline. */
const Envelope = z.object({
  from: z.string(),
  events: z.array(z.unknown()).optional(),
  ids: z.array(z.number().int()).optional(),
});

/**
 * Team mode: events reach the SSE clients of every replica. Local subscribers get them at once;
 * the other replicas through LISTEN/NOTIFY on one channel. An event too big for a notification
 * (large metadata or run config) is stored in `event_payloads` and only its id is sent.
 * Notifications from this process are ignored (already delivered), and every received event is
 * validated against the wire schema before it reaches a client.
 */
export class ReplicatedEventBus extends EventBus {
  private tail: Promise<void> = Promise.resolve();
  private readonly unlisten: () => void;

  constructor(private readonly db: PostgresDatabase) {
    super();
    this.unlisten = db.onNotification(EVENTS_CHANNEL, (payload) => void this.receive(payload));
  }

  /** Events whose NOTIFY went out inside their own transaction (PostgreSQL delivers it at COMMIT). */
  private readonly staged = new WeakSet<ServerEvent>();

  /**
   * The NOTIFY is part of the committing transaction, so a replica that dies after COMMIT has
   * already told the others: an acknowledged change is never missing from their event streams.
   */
  override async stage(tx: Queryable, raw: ServerEvent[]): Promise<void> {
    if (!raw.length) return;
    await this.publish(tx, slim(raw));
    for (const e of raw) this.staged.add(e);
  }

  override emit(raw: ServerEvent[]): void {
    if (!raw.length) return;
    this.deliver(slim(raw));
    // Events nobody staged (a code path outside a transaction) still reach the others, after the fact.
    const late = slim(raw.filter((e) => !this.staged.has(e)));
    if (!late.length) return;
    // One after another, so the other replicas see this replica's events in order.
    this.tail = this.tail.then(() => this.publish(this.db, late)).catch(() => undefined);
  }

  override async close(): Promise<void> {
    this.unlisten();
    await this.tail;
  }

  /** NOTIFYs `events` through `q` (a transaction: delivered at its COMMIT, or never if it rolls back). */
  private async publish(q: Queryable, events: ServerEvent[]): Promise<void> {
    const from = this.db.replicaId;
    let batch: string[] = [];
    let bytes = 0;
    const notify = (payload: string) => q.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, payload]);
    const flush = async () => {
      if (!batch.length) return;
      await notify(`{"from":"${from}","events":[${batch.join(',')}]}`);
      batch = [];
      bytes = 0;
    };
    for (const e of events) {
      const json = JSON.stringify(e);
      const size = Buffer.byteLength(json);
      if (size > MAX_INLINE_BYTES) {
        await flush();
        const rows = await q.query<{ id: number }>('INSERT INTO event_payloads (body) VALUES ($1) RETURNING id', [json]);
        // Old rows go outside any transaction (concurrent commits would wait on each other's deletes).
        void this.db.query(`DELETE FROM event_payloads WHERE created_at < now() - interval '${PAYLOAD_KEEP_MINUTES} minutes'`).catch(() => undefined);
        await notify(JSON.stringify({ from, ids: [rows[0].id] }));
        continue;
      }
      if (bytes + size > MAX_INLINE_BYTES) await flush();
      batch.push(json);
      bytes += size + 1;
    }
    await flush();
  }

  private async receive(payload: string): Promise<void> {
    try {
      const env = Envelope.parse(JSON.parse(payload));
      if (env.from === this.db.replicaId) return;
      let raw: unknown[] = env.events ?? [];
      if (env.ids?.length) {
        const rows = await this.db.query<{ body: string }>('SELECT body FROM event_payloads WHERE id = ANY($1::bigint[]) ORDER BY id', [env.ids]);
        raw = rows.map((r) => JSON.parse(r.body) as unknown);
      }
      const events: ServerEvent[] = [];
      for (const r of raw) {
        const parsed = ServerEvent.safeParse(r);
        if (parsed.success) events.push(parsed.data);
      }
      this.deliver(events);
    } catch {
      // A malformed notification is dropped; clients resynchronize on their next read.
    }
  }
}
