/**
 * Runs a command to completion without blocking this process (tests that host the server in-process
 * must not spawnSync: the server could not answer) and fails the test with its stderr's tail.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

export async function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv, what: string): Promise<void> {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  assert.equal(code, 0, `${what} failed: ${stderr.slice(-1500)}`);
}
