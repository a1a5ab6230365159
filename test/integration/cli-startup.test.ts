import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * `amphora --help` and usage errors must not parse the SDK, the server or their dependencies: the
 * CLI bundle is split (esbuild.mjs) and the commands import the SDK lazily (src/cli/sdk.ts). The
 * static import closure of dist/cli.mjs is what Node loads before any command runs; esbuild names
 * every bundled source file in a `// path` comment, which is what is checked here.
 */
describe('amphora CLI start-up (built dist/)', function () {
  this.timeout(120_000);
  const dist = path.resolve('dist');

  before(() => {
    execFileSync(process.execPath, ['esbuild.mjs'], { stdio: 'ignore' });
  });

  /**
   * Source paths bundled into `entry`, every chunk it imports (the entry's own `await import()` of
   * the command parser included) and every chunk those import statically.
   */
  function startupClosure(entry: string): Set<string> {
    const seen = new Set<string>();
    const sources = new Set<string>();
    const visit = (file: string, followDynamic = false) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(path.join(dist, file), 'utf8');
      for (const m of text.matchAll(/^\/\/ ((?:src|node_modules)\/\S+)$/gm)) sources.add(m[1]);
      // Static imports only (`import … from "./chunk-X.mjs"`); `import("./…")` is loaded on demand.
      for (const m of text.matchAll(/\bfrom\s*"\.\/([^"]+\.mjs)"/g)) visit(m[1]);
      for (const m of text.matchAll(/^import\s*"\.\/([^"]+\.mjs)";/gm)) visit(m[1]);
      if (followDynamic) for (const m of text.matchAll(/\bimport\("\.\/([^"]+\.mjs)"\)/g)) visit(m[1]);
    };
    visit(entry, true);
    return sources;
  }

  it('loads neither the SDK nor the server, undici, zod, fastify or PGlite before a command needs them', () => {
    const loaded = [...startupClosure('cli.mjs')];
    assert.ok(loaded.some((s) => s.startsWith('src/cli/main.ts')), `the closure should hold the command parser, got ${loaded.join(', ')}`);
    assert.ok(loaded.some((s) => s.startsWith('node_modules/commander/')), 'commander parses the arguments');
    const heavy = loaded.filter((s) => /^src\/(client|server)\/|^node_modules\/(undici|zod|fastify|@fastify|@electric-sql\/pglite)\//.test(s));
    assert.deepEqual(heavy, [], 'these are loaded by every amphora invocation, even --help');
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
