import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { cliV8Flags } from '../../src/cli/v8Flags.js';

/**
 * The CLI's V8 code cache (src/cli/codeCache.ts) is an optimisation only: whatever state the cache
 * file is in, the bundle runs its current source. Each case runs a fresh Node process, as each
 * `amphora` command is one (the cache is written when the process exits).
 */
describe('CLI code cache', function () {
  this.timeout(60_000);
  const codeCache = pathToFileURL(path.resolve('src/cli/codeCache.ts')).href;
  const v8FlagsModule = pathToFileURL(path.resolve('src/cli/v8Flags.ts')).href;
  let dir: string;
  let bundle: string;
  let cacheDir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'amphora-codecache-'));
    bundle = path.join(dir, 'bundle.cjs');
    cacheDir = path.join(dir, 'cache');
    writeFileSync(bundle, source(1));
    writeFileSync(path.join(dir, 'lazy.mjs'), 'export const lazy = "loaded";\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * A bundle with enough code for V8 to cache, exporting `value` and importing a sibling ES module
   * on demand the way esbuild.mjs makes the CLI bundles do it (through codeCache's IMPORT_HOOK).
   */
  function source(value: number): string {
    const fns = Array.from({ length: 50 }, (_, i) => `function f${i}(x) { return x * ${i} + ${value}; }`).join('\n');
    const lazy = "() => globalThis[Symbol.for('amphora.cli.import')](require('node:url').pathToFileURL(require('node:path').join(__dirname, 'lazy.mjs')).href)";
    return `${fns}\nmodule.exports = { value: ${value}, sum: [${Array.from({ length: 50 }, (_, i) => `f${i}(1)`).join(', ')}].reduce((a, b) => a + b), lazy: ${lazy} };\n`;
  }

  function run(env: Record<string, string> = {}, v8Flags: string[] = []): { cache: string; value: number; lazy: string; cacheFile?: string; stderr: string } {
    const script = `import { runBundle } from ${JSON.stringify(codeCache)};
import { setV8Flags } from ${JSON.stringify(v8FlagsModule)};
setV8Flags(JSON.parse(process.argv[2]));
const r = runBundle(process.argv[1]);
const { lazy } = await r.exports.lazy();
console.log(JSON.stringify({ cache: r.cache, value: r.exports.value, lazy, cacheFile: r.cacheFile }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, bundle, JSON.stringify(v8Flags)], {
      encoding: 'utf8',
      env: { ...process.env, AMPHORA_CACHE_DIR: cacheDir, AMPHORA_CODE_CACHE: '', ...env },
    });
    assert.equal(r.status, 0, r.stderr);
    return { ...(JSON.parse(r.stdout) as { cache: string; value: number; lazy: string; cacheFile?: string }), stderr: r.stderr };
  }

  it('is written on the first run and used on the next, and the restored code still imports ES modules', () => {
    const first = run();
    assert.equal(first.cache, 'missing');
    assert.equal(first.value, 1);
    assert.equal(first.lazy, 'loaded');
    assert.equal(first.stderr, '');
    assert.match(readFileSync(first.cacheFile!).subarray(0, 16).toString(), /^AMPHORA-V8CODE1\n$/);
    const second = run();
    assert.equal(second.cache, 'used');
    assert.equal(second.value, 1);
    assert.equal(second.lazy, 'loaded');
  });

  it('V8 flags the CLI sets are part of the key: a cache is used under the flags it was made with, never refused by V8 on every run', () => {
    const flags = cliV8Flags(['artifact', 'get', 'x:latest']);
    assert.deepEqual(flags, ['--liftoff-only']);
    const first = run({}, flags);
    assert.equal(first.cache, 'missing');
    assert.equal(first.stderr, '', 'this Node knows the flag (an unknown one prints an error on every command)');
    const second = run({}, flags);
    assert.equal(second.cache, 'used');
    assert.equal(second.value, 1);
    // Without the flags (as `amphora serve` runs) another file is made, not the flagged one refused.
    const plain = run();
    assert.equal(plain.cache, 'missing');
    assert.notEqual(plain.cacheFile, first.cacheFile);
    assert.deepEqual(cliV8Flags(['serve', '--port', '0']), [], 'the embedded server keeps optimised WebAssembly for PGlite');
  });

  it('a cache of an older build is never used for a new one, even of the same length, and is removed', () => {
    const old = run();
    writeFileSync(bundle, source(2)); // same length, different code
    assert.equal(readFileSync(bundle).length, source(1).length);
    const fresh = run();
    assert.equal(fresh.value, 2, 'the new source runs, not the cached old one');
    assert.equal(fresh.cache, 'missing');
    assert.notEqual(fresh.cacheFile, old.cacheFile);
    assert.deepEqual(readdirSync(path.join(cacheDir, 'code')), [path.basename(fresh.cacheFile!)]);
    assert.equal(run().cache, 'used');
  });

  it('a corrupt or truncated cache file is ignored and replaced', () => {
    const { cacheFile } = run();
    const good = readFileSync(cacheFile!);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 10] ^= 0xff;
    writeFileSync(cacheFile!, flipped);
    const afterFlip = run();
    assert.equal(afterFlip.cache, 'corrupt');
    assert.equal(afterFlip.value, 1);
    assert.equal(run().cache, 'used', 'rewritten by the run that found it corrupt');
    writeFileSync(cacheFile!, good.subarray(0, 20));
    assert.equal(run().cache, 'corrupt');
    writeFileSync(cacheFile!, 'not a cache');
    assert.equal(run().cache, 'corrupt');
  });

  it('cached data V8 refuses (intact file, foreign payload) is ignored and replaced', () => {
    const { cacheFile } = run();
    const payload = randomBytes(4096);
    writeFileSync(cacheFile!, Buffer.concat([Buffer.from('AMPHORA-V8CODE1\n'), createHash('sha256').update(payload).digest(), payload]));
    const r = run();
    assert.equal(r.cache, 'rejected');
    assert.equal(r.value, 1);
    assert.equal(run().cache, 'used');
  });

  it('an unwritable cache dir costs the cache, not the command', () => {
    writeFileSync(cacheDir, 'a file where the cache dir should be');
    for (let i = 0; i < 2; i++) {
      const r = run();
      assert.equal(r.cache, 'missing');
      assert.equal(r.value, 1);
      assert.equal(r.stderr, '');
    }
  });

  it('AMPHORA_CODE_CACHE=off loads the bundle with plain require and writes nothing', () => {
    const r = run({ AMPHORA_CODE_CACHE: 'off' });
    assert.equal(r.cache, 'off');
    assert.equal(r.value, 1);
    assert.equal(r.lazy, 'loaded');
    assert.throws(() => readdirSync(cacheDir), /ENOENT/);
  });
});
