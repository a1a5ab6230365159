import type { ServerEvent } from '../core/api.js';

type Listener = (e: ServerEvent) => void;

/** In-process fan-out of server events to SSE subscribers; ReplicatedEventBus adds the other replicas. */
export class EventBus {
  private readonly listeners = new Set<Listener>();

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Announces events that happened on this server. */
  emit(events: ServerEvent[]): void {
    this.deliver(events);
  }

  /** Hands events to this process's subscribers only. */
  protected deliver(events: ServerEvent[]): void {
    for (const e of events) for (const fn of this.listeners) fn(e);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  get size(): number {
    return this.listeners.size;
  }
}
