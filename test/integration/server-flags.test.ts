import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { tempDir } from './server-helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MAIN = join(ROOT, 'src', 'server', 'main.ts');
/** The standalone server process run from source, so these tests need no build. */
const node = (args: string[]) => ['--import', 'tsx', MAIN, ...args];

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, node(args), { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('server process: command-line flags', function () {
  this.timeout(120_000);

  for (const [args, names] of [
    [['--bogus'], '--bogus'],
    [['--port'], '--port'],
    [['stray'], 'stray'],
    [['--port', 'abc'], '--port must be 0–65535'],
    [['--port=70000'], '--port must be 0–65535'],
    [['--heartbeat-timeout-ms', '5'], '--heartbeat-timeout-ms must be a whole number ≥ 100'],
  ] as const) {
    it(`refuses ${args.join(' ')} with exit 2, naming it and printing the usage`, () => {
      const r = run([...args]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /^amphora server: /);
      assert.ok(r.stderr.includes(names), r.stderr);
      assert.match(r.stderr, /Usage: node dist\/server\.mjs/);
    });
  }

  it('--help and -h print the usage and exit 0', () => {
    for (const flag of ['--help', '-h']) {
      const r = run([flag]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^Usage: node dist\/server\.mjs .*--team/);
    }
  });

  it('takes --flag=value as well as --flag value, and starts on the data dir given', async () => {
    const dataDir = tempDir('amphora-flags-');
    const child = spawn(process.execPath, node([`--data-dir=${dataDir}`, '--port=0', '--host', '127.0.0.1']), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
        // Start-up progress lines come first; the listening line says where it serves.
        createInterface({ input: child.stdout }).on('line', (l) => (JSON.parse(l) as { event: string }).event === 'listening' && resolve(l));
      });
      const msg = JSON.parse(line) as { event: string; url: string; dataDir: string };
      assert.equal(msg.event, 'listening');
      assert.equal(msg.dataDir, dataDir);
      assert.match(msg.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(new URL(msg.url).port, '0');
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
