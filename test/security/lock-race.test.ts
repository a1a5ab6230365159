/**
 * Several real server processes started at once on a data dir whose lock names a dead server
 * (an editor and a terminal after a crash): exactly one may win, round after round.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { onListening } from '../support/serverLines.js';
import { tempDir } from '../integration/server-helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ROUNDS = 20;
const RACERS = 4;

interface Outcome {
  child: ChildProcess;
  listening: boolean;
  exitCode: number | null;
  stderr: string;
}

/** Starts a server and settles when it listens or exits. */
function race(dataDir: string): Promise<Outcome> {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'server.mjs'), '--data-dir', dataDir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Outcome = { child, listening: false, exitCode: null, stderr: '' };
  child.stderr!.on('data', (d) => (out.stderr += d));
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(out), 60_000);
    onListening(child.stdout!, (line) => {
      out.listening = JSON.parse(line).event === 'listening';
      clearTimeout(timer);
      resolve(out);
    });
    child.once('exit', (code) => {
      out.exitCode = code;
      clearTimeout(timer);
      resolve(out);
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

describe('security: stale-lock takeover with real processes racing', function () {
  this.timeout(600_000);
  const dir = tempDir('amphora-lockrace-');
  const all: ChildProcess[] = [];

  before(async () => {
    const b = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    // A first server creates the database, then dies without cleaning up: its lock names a dead pid.
    const first = await race(dir);
    all.push(first.child);
    assert.ok(first.listening, first.stderr);
    first.child.kill('SIGKILL');
    await exited(first.child);
  });
  after(() => {
    for (const c of all) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it(`lets exactly one of ${RACERS} starters win in each of ${ROUNDS} rounds; the others exit with a clear message`, async () => {
    const started = Date.now();
    for (let round = 1; round <= ROUNDS; round++) {
      const staleOwner = JSON.parse(readFileSync(join(dir, 'server.lock'), 'utf8')).pid as number;
      const outcomes = await Promise.all(Array.from({ length: RACERS }, () => race(dir)));
      all.push(...outcomes.map((o) => o.child));
      const winners = outcomes.filter((o) => o.listening);
      const losers = outcomes.filter((o) => !o.listening);
      try {
        assert.equal(winners.length, 1, `round ${round}: ${winners.length} servers acquired the data dir (stale owner ${staleOwner})`);
        for (const l of losers) {
          assert.equal(l.exitCode, 3, `round ${round}: a losing starter exits with 3 (conflict): ${l.stderr}`);
          assert.match(l.stderr, /already used by a running Amphora server .*\(pid \d+\)\. Connect to it/);
        }
        const lock = JSON.parse(readFileSync(join(dir, 'server.lock'), 'utf8'));
        assert.equal(lock.pid, winners[0].child.pid, `round ${round}: the lock names the winner`);
      } finally {
        for (const o of winners) o.child.kill('SIGKILL'); // the next round races over its stale lock
        await Promise.all(outcomes.map((o) => exited(o.child)));
      }
    }
    const leftovers = readdirSync(dir).filter((n) => n.startsWith('server.lock.'));
    assert.deepEqual(leftovers, [], 'no takeover or temp files accumulate');
    console.log(`      ${ROUNDS} rounds × ${RACERS} racing starters: one winner each, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
});
