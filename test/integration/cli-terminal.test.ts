/**
 * `amphora artifact put` in a real terminal (a pseudo-terminal from util-linux `script`): the
 * progress bar shows bytes while a single large file uploads, and Ctrl-C typed into the terminal
 * leaves the cursor shown and line wrap on.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startHostile, type Hostile } from '../security/hostileServer.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli.mjs');

describe('amphora CLI in a terminal: progress and Ctrl-C', function () {
  this.timeout(60_000);
  let dir: string;
  let server: Hostile;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'amphora-tty-'));
    server = await startHostile({ entries: {}, stallUploads: true });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('Ctrl-C during an upload restores the cursor and line wrap, after byte progress of the one large file', async () => {
    const file = path.join(dir, 'big.bin');
    await writeFile(file, Buffer.alloc(48 << 20, 7));
    const cmd = `exec node ${CLI} artifact put ${file} --name probe/big --type dataset`;
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], {
      env: { ...process.env, AMPHORA_BASE_URL: server.url, AMPHORA_API_KEY: server.apiKey, AMPHORA_CACHE_DIR: path.join(dir, 'cache'), COLUMNS: '120', LINES: '30' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    // Wait for the upload bar to show some bytes of the single file, but not all of them.
    const deadline = Date.now() + 30_000;
    while (!/upload .*\] [0-9.]+ (MiB|KiB)\/48 MiB · 0\/1 files/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /upload .*\] [0-9.]+ (MiB|KiB)\/48 MiB · 0\/1 files/, `byte progress while the one file uploads; output: ${JSON.stringify(out.slice(-600))}`);
    child.stdin.write('\x03'); // what the terminal sends for Ctrl-C
    const code = await exited;
    const hid = out.lastIndexOf('\x1b[?25l');
    const wrapOff = out.lastIndexOf('\x1b[?7l');
    assert.ok(hid >= 0 && wrapOff >= 0, 'the bar hid the cursor and turned wrap off');
    assert.ok(out.lastIndexOf('\x1b[?25h') > hid, `cursor shown again; tail: ${JSON.stringify(out.slice(-300))}`);
    assert.ok(out.lastIndexOf('\x1b[?7h') > wrapOff, 'line wrap on again');
    assert.equal(code, 130, 'exit code of a command ended by Ctrl-C');
  });
});
