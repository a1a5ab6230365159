/**
 * The extension's embedded-server launcher (no `vscode` inside): starts the real bundled server
 * (dist/server.mjs, built by `npm test`) the way the extension does, waits for its listening
 * line, and stops it; a bad script path fails with a message that says what to do.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
    try {
      // (55 s: the first start creates the cluster, which a loaded CI machine can take 30 s for)
      server = await startEmbeddedServer({ serverScript: SCRIPT, dataDir: dir, port: 0, timeoutMs: 55_000, log: (l) => lines.push(l), onExit: () => (exited = true) });
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
      (e: Error) => /exited during start-up.*"Amphora" output channel/.test(e.message),
    );
    assert.ok(lines.length > 0, 'its stderr reached the log');
  });
});
