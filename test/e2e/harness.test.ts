/**
 * The real-editor harness cleans up after itself: a server whose start-up fails is stopped, not
 * left running behind a failed `before` hook (no editor is started here, only the server bundle).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startAmphoraServer, until } from './harness.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('e2e harness: a failed server start leaves no server running', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'amphora-harness-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('stops the server when it does not report listening in time', async () => {
    let proc: ChildProcess | undefined;
    // Far too short for any start-up: the harness gives up while the server is still starting.
    await assert.rejects(startAmphoraServer(path.join(dir, 'data'), () => undefined, undefined, { timeoutMs: 1, onSpawn: (p) => (proc = p) }), /did not print its listening line within 1 ms/);
    assert.ok(proc?.pid, 'the server process was spawned');
    await until('the server process to be gone', () => !alive(proc!.pid!), 5_000, 50);
    assert.ok(proc.exitCode !== null || proc.signalCode !== null, 'the harness waited for it to exit');
  });

  it('starts a server that answers when given the time', async () => {
    const s = await startAmphoraServer(path.join(dir, 'data'), () => undefined);
    try {
      assert.equal((await fetch(`${s.url}/api/v1/health`)).status, 200);
    } finally {
      process.kill(-s.proc.pid!, 'SIGTERM');
      await until('the server to stop', () => !alive(s.proc.pid!), 10_000, 50);
    }
  });
});
