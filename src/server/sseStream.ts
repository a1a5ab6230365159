import type { Writable } from 'node:stream';

/** Unsent bytes one subscriber may have queued in this process before it is dropped. */
export const SSE_MAX_QUEUED_BYTES = 1 << 20;

/**
 * One server-sent-events response with a bounded queue. A subscriber that stops reading (a
 * frozen editor, a stalled proxy) would otherwise make the server hold every event for it;
 * once its queue exceeds the bound it is disconnected, and its client reconnects and resyncs.
 */
export class SseStream {
  private dropped = false;

  constructor(
    private readonly out: Writable,
    private readonly onDrop: () => void,
    private readonly maxQueuedBytes = SSE_MAX_QUEUED_BYTES,
  ) {}

  /** Queues one SSE frame (event or comment); false once the subscriber has been dropped. */
  send(frame: string): boolean {
    if (this.dropped || this.out.destroyed) return false;
    if (this.out.writableLength + frame.length > this.maxQueuedBytes) {
      this.dropped = true;
      // Nothing more can reach a client that does not read: close the connection outright.
      this.out.destroy();
      this.onDrop();
      return false;
    }
    this.out.write(frame);
    return true;
  }

  get isDropped(): boolean {
    return this.dropped;
  }
}
