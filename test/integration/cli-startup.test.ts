import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * `amphora --help` and usage errors must not parse the SDK, the server or their dependencies:
 * dist/cli.mjs runs the commands from the CommonJS bundle cli-main.cjs, which loads cli-sdk.cjs
 * only when a command needs the SDK (esbuild.mjs, src/cli/main.ts). What Node compiles before any
 * command runs is cli.mjs, the chunks it imports statically and cli-main.cjs; esbuild names every
 * bundled source file in a `// path` comment, which is what is checked here.
 */
describe('amphora CLI start-up (built dist/)', function () {
  this.timeout(120_000);
  const dist = path.resolve('dist');

  before(() => {
    execFileSync(process.execPath, ['esbuild.mjs'], { stdio: 'ignore' });
  });

  /** Source paths bundled into `entry` and every chunk it imports statically. */
  function startupClosure(entry: string): Set<string> {
    const seen = new Set<string>();
    const sources = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(path.join(dist, file), 'utf8');
      for (const m of text.matchAll(/^\/\/ ((?:src|node_modules)\/\S+)$/gm)) sources.add(m[1]);
      // Static imports only (`import … from "./chunk-X.mjs"`); `import("./…")` is loaded on demand.
      for (const m of text.matchAll(/\bfrom\s*"\.\/([^"]+\.mjs)"/g)) visit(m[1]);
      for (const m of text.matchAll(/^import\s*"\.\/([^"]+\.mjs)";/gm)) visit(m[1]);
    };
    visit(entry);
    return sources;
  }

  it('loads neither the SDK nor the server, undici, zod, fastify or PGlite before a command needs them', () => {
    const loaded = [...startupClosure('cli.mjs'), ...startupClosure('cli-main.cjs')];
    assert.ok(loaded.some((s) => s.startsWith('src/cli/main.ts')), `the closure should hold the command parser, got ${loaded.join(', ')}`);
    assert.ok(loaded.some((s) => s.startsWith('node_modules/commander/')), 'commander parses the arguments');
    const heavy = loaded.filter((s) => /^src\/(client|server)\/|^node_modules\/(undici|zod|fastify|@fastify|@electric-sql\/pglite)\//.test(s));
    assert.deepEqual(heavy, [], 'these are loaded by every amphora invocation, even --help');
    const sdk = [...startupClosure('cli-sdk.cjs')];
    assert.ok(sdk.some((s) => s.startsWith('src/client/')) && sdk.some((s) => s.startsWith('node_modules/undici/')), 'cli-sdk.cjs holds the SDK and undici');
    assert.ok(!sdk.some((s) => s === 'node_modules/undici/index.js'), 'the SDK loads the undici modules it calls, not its index (fetch, WebSocket, mocks…)');
    const locales = sdk.filter((s) => s.startsWith('node_modules/zod/v4/locales/'));
    assert.deepEqual(locales, ['node_modules/zod/v4/locales/en.js'], "zod's locales: English alone (esbuild.mjs, zodEnglishOnly)");
  });

  it('still finds the SDK and the server when a command needs them (lazy chunks are in dist/)', () => {
    const help = spawnSync(process.execPath, [path.join(dist, 'cli.mjs'), '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /Usage: amphora/);
    // A command that needs the SDK: the client loads and reports the unreachable server (exit 4).
    const env = { ...process.env, AMPHORA_BASE_URL: 'http://127.0.0.1:9', AMPHORA_API_KEY: 'k' };
    const ls = spawnSync(process.execPath, [path.join(dist, 'cli.mjs'), 'artifact', 'ls'], { encoding: 'utf8', env });
    assert.equal(ls.status, 4, `${ls.stdout}\n${ls.stderr}`);
    assert.match(ls.stderr, /127\.0\.0\.1:9/);
  });

  it('keeps its compiled code in the cache dir and answers the same with no, a warm or a corrupt code cache', () => {
    const cacheDir = mkdtempSync(path.join(tmpdir(), 'amphora-cli-code-'));
    try {
      const env = { ...process.env, AMPHORA_BASE_URL: 'http://127.0.0.1:9', AMPHORA_API_KEY: 'k', AMPHORA_CACHE_DIR: cacheDir, AMPHORA_CODE_CACHE: '' };
      // `artifact ls` loads both bundles, then reports the unreachable server (exit 4).
      const ls = (extra: Record<string, string> = {}) => spawnSync(process.execPath, [path.join(dist, 'cli.mjs'), 'artifact', 'ls'], { encoding: 'utf8', env: { ...env, ...extra } });
      const first = ls();
      assert.equal(first.status, 4, first.stderr);
      const codeDir = path.join(cacheDir, 'code');
      const files = readdirSync(codeDir).sort();
      assert.deepEqual(files.map((f) => f.replace(/-[0-9a-f]{32}\.v8$/, '')), ['cli-main.cjs', 'cli-sdk.cjs']);
      for (const run of [ls(), ls({ AMPHORA_CODE_CACHE: 'off' })]) {
        assert.equal(run.status, 4);
        assert.equal(run.stderr, first.stderr);
      }
      for (const f of files) writeFileSync(path.join(codeDir, f), 'garbage');
      const corrupt = ls();
      assert.equal(corrupt.status, 4);
      assert.equal(corrupt.stderr, first.stderr);
      for (const f of files) assert.match(readFileSync(path.join(codeDir, f)).subarray(0, 16).toString(), /^AMPHORA-V8CODE1\n$/, `${f} is written again`);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('a reader that closes the pipe early (`amphora --help | head -1`) ends the command quietly, exit 0', async () => {
    for (const args of [['--help'], ['artifact', '--help'], ['--version'], ['artifact', 'put', '--help']]) {
      const child = spawn(process.execPath, [path.join(dist, 'cli.mjs'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy(); // the reader is gone before the first write, as after `head -1`
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(stderr, '', `amphora ${args.join(' ')}: nothing on stderr`);
      assert.equal(code, 0, `amphora ${args.join(' ')}`);
    }
  });
});
