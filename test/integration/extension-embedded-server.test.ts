/**
 * The extension's embedded-server launcher (no `vscode` inside): starts the real bundled server
 * (dist/server.mjs, built by `npm test`) the way the extension does, waits for its listening
 * line (telling each start-up step on the way), and stops it; a start that fails says why, and
 * one that takes long is waited for until it is ready, cancelled or past the ceiling.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedServer } from '../../src/extension/connection/embeddedServer.js';
import { requireBuilt } from '../support/built.js';
import { EMBEDDED_ONLY, TEAM_DB } from './server-helpers.js';

const SCRIPT = path.resolve(import.meta.dirname, '../../dist/server.mjs');

describe('extension: embedded server launcher', function () {
  if (TEAM_DB) return void it.skip(EMBEDDED_ONLY);
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'amphora-ext-embedded-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts the bundled server, which writes the discovery file and answers /health, and stops it', async function () {
    requireBuilt(this, SCRIPT);
    const lines: string[] = [];
    let exited = false;
    // A team server configured in the user's environment must not turn the editor's server into one.
    const saved = { db: process.env.AMPHORA_DB_URL, blobs: process.env.AMPHORA_BLOBS };
    process.env.AMPHORA_DB_URL = 'postgres://team@127.0.0.1:1/amphora';
    process.env.AMPHORA_BLOBS = 'file:/nonexistent/team-blobs';
    let server: Awaited<ReturnType<typeof startEmbeddedServer>>;
    const steps: string[] = [];
    try {
      // No time-out: the first start creates the cluster, which a loaded machine can take minutes for.
      server = await startEmbeddedServer({ serverScript: SCRIPT, dataDir: dir, port: 0, log: (l) => lines.push(l), onExit: () => (exited = true), onProgress: (s) => steps.push(s) });
    } finally {
      for (const [k, v] of [['AMPHORA_DB_URL', saved.db], ['AMPHORA_BLOBS', saved.blobs]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    try {
      assert.equal(((await (await fetch(`${server.url}/api/v1/health`)).json()) as { mode: string }).mode, 'embedded');
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const discovery = JSON.parse(readFileSync(path.join(dir, 'server.json'), 'utf8'));
      assert.equal(discovery.url, server.url);
      assert.equal(discovery.pid, server.process.pid);
      const health = await fetch(`${server.url}/api/v1/health`);
      assert.equal(health.status, 200);
      assert.ok(lines.some((l) => l.includes('"listening"')), 'the listening line reaches the log');
    } finally {
      await server.stop();
    }
    assert.ok(exited, 'onExit was called');
    assert.notEqual(server.process.exitCode === null && server.process.signalCode === null, true);
    assert.deepEqual(steps, ['creating the database (first start: this can take a minute or more)', 'starting the HTTP server']);
    // A second start finds the database.
    const again: string[] = [];
    const second = await startEmbeddedServer({ serverScript: SCRIPT, dataDir: dir, port: 0, log: () => undefined, onExit: () => undefined, onProgress: (s) => again.push(s) });
    await second.stop();
    assert.deepEqual(again, ['opening the database', 'starting the HTTP server']);
  });

  /** A stand-in server that announces a step and then takes its time (a slow initdb). */
  function slowServer(): string {
    const script = path.join(dir, 'slow-server.mjs');
    writeFileSync(script, `console.log(JSON.stringify({ event: 'starting', step: 'creating the database' }));\nsetInterval(() => {}, 1000);\n`);
    return script;
  }

  it('waits for a slow start as long as the process lives, up to the ceiling, then stops it and says so', async () => {
    const steps: string[] = [];
    const lines: string[] = [];
    const t0 = Date.now();
    await assert.rejects(
      startEmbeddedServer({ serverScript: slowServer(), dataDir: dir, log: (l) => lines.push(l), onExit: () => undefined, onProgress: (s) => steps.push(s), ceilingMs: 3_000 }),
      (e: Error) => /still not ready after 3 s, so it was stopped.*Amphora: Reconnect/.test(e.message),
    );
    assert.ok(Date.now() - t0 >= 2_900, 'it waited for the ceiling');
    assert.deepEqual(steps, ['creating the database']);
    const pid = Number(/pid (\d+)/.exec(lines[0])![1]);
    await new Promise((r) => setTimeout(r, 300));
    assert.throws(() => process.kill(pid, 0), 'the process was stopped');
  });

  it('Cancel stops the waiting and the process', async () => {
    const ac = new AbortController();
    const lines: string[] = [];
    setTimeout(() => ac.abort(), 500);
    await assert.rejects(
      startEmbeddedServer({ serverScript: slowServer(), dataDir: dir, log: (l) => lines.push(l), onExit: () => undefined, signal: ac.signal }),
      (e: Error) => /cancelled; run "Amphora: Reconnect"/.test(e.message),
    );
    const pid = Number(/pid (\d+)/.exec(lines[0])![1]);
    await new Promise((r) => setTimeout(r, 300));
    assert.throws(() => process.kill(pid, 0), 'the process was stopped');
  });

  it('explains a missing bundle', async () => {
    await assert.rejects(
      startEmbeddedServer({ serverScript: path.join(dir, 'nope.mjs'), dataDir: dir, log: () => undefined, onExit: () => undefined }),
      (e: Error) => /bundled server is missing .*reinstall/.test(e.message),
    );
  });

  it('reports a server that exits during start-up, with where to look', async function () {
    requireBuilt(this, SCRIPT);
    const lines: string[] = [];
    // A data dir that is a file cannot be opened: the server exits instead of listening.
    const notADir = path.join(dir, 'file');
    await import('node:fs/promises').then((fs) => fs.writeFile(notADir, 'x'));
    await assert.rejects(
      startEmbeddedServer({ serverScript: SCRIPT, dataDir: notADir, port: 0, log: (l) => lines.push(l), onExit: () => undefined }),
      (e: Error) => {
        // The server's own reason is in the message, not only in the log.
        assert.match(e.message, /exited during start-up \(exit code \d+\): \S.*"Amphora" output channel/);
        assert.ok(lines.some((l) => e.message.includes(l.replace(/^amphora server: /, '').slice(0, 40))), `${e.message} quotes the server's error output`);
        return true;
      },
    );
    assert.ok(lines.length > 0, 'its stderr reached the log');
  });
});
