/**
 * Waits for a condition instead of sleeping a guessed time: polls `fn` until it returns something
 * other than undefined/false and returns that, or fails naming `what` after `ms`. A slow machine
 * makes the test slower, never wrong; a fast one does not wait at all.
 */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 20_000, every = 10): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
