/**
 * Runs the CLI's CommonJS bundles (dist/cli-main.cjs, dist/cli-sdk.cjs) with V8's code cache kept
 * under the client cache dir: a cold `amphora artifact get` otherwise spends ~60 ms of its CPU
 * compiling undici, zod and the SDK again, and Node 20 has no compile cache of its own
 * (module.enableCompileCache arrived in 22.1).
 *
 * The cache is an optimisation only: a missing, stale, corrupt or unwritable one costs the compile
 * it would have saved, never the command. V8 checks little more than the source's length before
 * using cached code (and no checksum in release builds), so the file is keyed by a hash of the
 * exact source and the runtime, and carries a SHA-256 of its payload that is checked first.
 * Set AMPHORA_CODE_CACHE=off to run without it.
 *
 * A script compiled from cached data loses Node's dynamic-import callback (ERR_VM_DYNAMIC_IMPORT_
 * CALLBACK_MISSING), so the bundles never call import() themselves: esbuild.mjs rewrites their
 * import() of sibling files (serve.mjs, vendor/…) into calls of the function this module publishes
 * as globalThis[IMPORT_HOOK], an import() that lives in an ordinary ES module.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import module, { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import { defaultCacheDir } from '../core/node/dirs.js';
import { v8FlagsSet } from './v8Flags.js';

/** Where the bundles find their import(); the same key is written into them by esbuild.mjs. */
export const IMPORT_HOOK = Symbol.for('amphora.cli.import');
const MAGIC = Buffer.from('AMPHORA-V8CODE1\n');
const HEADER = MAGIC.length + 32;

/** What became of the code cache for one bundle: used, written afresh (after a miss, a rejection or a corrupt file), or not in play. */
export type CodeCacheState = 'used' | 'missing' | 'rejected' | 'corrupt' | 'off';

export interface LoadedBundle {
  exports: unknown;
  cache: CodeCacheState;
  /** The cache file for this source and runtime (undefined when off). */
  cacheFile?: string;
}

const loaded = new Map<string, LoadedBundle>();

/**
 * Loads the CommonJS bundle `file` once per process, as `require` would, compiling it with the
 * code cache in `<cacheDir>/code/`. A new cache file is written when the process exits (by then
 * it also holds the functions the command compiled lazily) unless a valid one was used.
 */
export function runBundle(file: string, env: Record<string, string | undefined> = process.env): LoadedBundle {
  const known = loaded.get(file);
  if (known) return known;
  (globalThis as Record<symbol, unknown>)[IMPORT_HOOK] ??= (url: string) => import(url);
  if (env.AMPHORA_CODE_CACHE === 'off') {
    const result: LoadedBundle = { exports: createRequire(file)(file), cache: 'off' };
    loaded.set(file, result);
    return result;
  }
  const source = readFileSync(file, 'utf8');
  const key = createHash('sha256').update(`${process.version} ${process.arch} ${[...process.execArgv, ...v8FlagsSet()].join(' ')}\n`).update(source).digest('hex').slice(0, 32);
  const dir = path.join(defaultCacheDir(env), 'code');
  const base = path.basename(file);
  const cacheFile = path.join(dir, `${base}-${key}.v8`);
  const { data, state } = readCache(cacheFile);
  const script = new vm.Script(module.wrap(source), { filename: file, cachedData: data });
  const cache: CodeCacheState = data === undefined ? state : script.cachedDataRejected ? 'rejected' : 'used';
  if (cache !== 'used') process.once('exit', () => writeCache(dir, base, cacheFile, script));
  const mod = { exports: {} as unknown };
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
  const result: LoadedBundle = { exports: mod.exports, cache, cacheFile };
  loaded.set(file, result);
  wrapper.call(mod.exports, mod.exports, createRequire(file), mod, file, path.dirname(file));
  result.exports = mod.exports;
  return result;
}

function readCache(file: string): { data?: Buffer; state: CodeCacheState } {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch {
    return { state: 'missing' };
  }
  const payload = raw.subarray(HEADER);
  const intact =
    raw.length > HEADER &&
    raw.subarray(0, MAGIC.length).equals(MAGIC) &&
    createHash('sha256').update(payload).digest().equals(raw.subarray(MAGIC.length, HEADER));
  return intact ? { data: payload, state: 'used' } : { state: 'corrupt' };
}

/** Writes the cache through a temp file + rename (concurrent commands never see half a file) and drops older builds' caches of the same bundle. */
function writeCache(dir: string, base: string, cacheFile: string, script: vm.Script): void {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    const payload = script.createCachedData();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(tmp, Buffer.concat([MAGIC, createHash('sha256').update(payload).digest(), payload]), { mode: 0o600 });
    renameSync(tmp, cacheFile);
    for (const f of readdirSync(dir)) {
      if (f.startsWith(`${base}-`) && f.endsWith('.v8') && path.join(dir, f) !== cacheFile) rmSync(path.join(dir, f), { force: true });
    }
  } catch {
    // A read-only or full cache dir: the next run compiles again, nothing else changes.
    try {
      rmSync(tmp, { force: true });
    } catch {
      // no temp file could be made there either
    }
  }
}
