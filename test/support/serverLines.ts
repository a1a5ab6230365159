import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/**
 * Calls `fn` once with the server process's first stdout line that is not a start-up progress
 * line ({"event":"starting",...}): its listening line, or whatever it printed instead.
 */
export function onListening(stdout: Readable, fn: (line: string) => void): void {
  let done = false;
  createInterface({ input: stdout }).on('line', (line) => {
    if (done || (JSON.parse(line) as { event?: string }).event === 'starting') return;
    done = true;
    fn(line);
  });
}
