import type { ServerEvent } from '../core/api.js';

type Listener = (e: ServerEvent) => void;

/** In-process fan-out of server events to SSE subscribers (team mode would add LISTEN/NOTIFY). */
export class EventBus {
  private readonly listeners = new Set<Listener>();

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(events: ServerEvent[]): void {
    for (const e of events) for (const fn of this.listeners) fn(e);
  }

  get size(): number {
    return this.listeners.size;
  }
}
