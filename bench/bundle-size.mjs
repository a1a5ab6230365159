// Production bundle sizes and CLI start time with the cloud SDKs (s3:// and gs:// references) in
// lazily loaded vendor bundles, as esbuild.mjs builds them, versus inlined into the CLI and the
// extension. Usage: node bench/bundle-size.mjs [--runs N]
import * as esbuild from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 10;
const repo = resolve(import.meta.dirname, '..');
const lazy = mkdtempSync(join(tmpdir(), 'amphora-bench-lazy-'));
const inline = mkdtempSync(join(tmpdir(), 'amphora-bench-inline-'));
try {
  execFileSync(process.execPath, ['esbuild.mjs', '--production', `--outdir=${lazy}`], { cwd: repo, stdio: 'ignore' });
  const banner = { js: "import { createRequire as __amphoraCreateRequire } from 'node:module'; const require = __amphoraCreateRequire(import.meta.url);" };
  const common = { bundle: true, platform: 'node', target: 'node20', minify: true, legalComments: 'none', logLevel: 'error', absWorkingDir: repo };
  await esbuild.build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: join(inline, 'cli.mjs'), format: 'esm', banner });
  await esbuild.build({ ...common, entryPoints: ['src/extension/extension.ts'], outfile: join(inline, 'extension.cjs'), format: 'cjs', external: ['vscode'] });
  // The CLI finds PGlite's files next to itself; node_modules for anything left external.
  for (const dir of [lazy, inline]) symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  const mb = (f) => (statSync(f).size / 1e6).toFixed(2) + ' MB';
  const startMs = (dir) => {
    const t = process.hrtime.bigint();
    execFileSync(process.execPath, [join(dir, 'cli.mjs'), '--help'], { stdio: 'ignore' });
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const times = { lazy: [], inline: [] };
  for (let i = 0; i < runs; i++) {
    times.lazy.push(startMs(lazy));
    times.inline.push(startMs(inline));
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(0) + ' ms';
  console.table({
    'lazy (esbuild.mjs)': { 'cli.mjs': mb(join(lazy, 'cli.mjs')), 'extension.cjs': mb(join(lazy, 'extension.cjs')), 'vendor/aws-s3.mjs': mb(join(lazy, 'vendor', 'aws-s3.mjs')), 'vendor/gcs.mjs': mb(join(lazy, 'vendor', 'gcs.mjs')), [`cli --help (median of ${runs})`]: median(times.lazy) },
    inlined: { 'cli.mjs': mb(join(inline, 'cli.mjs')), 'extension.cjs': mb(join(inline, 'extension.cjs')), 'vendor/aws-s3.mjs': '—', 'vendor/gcs.mjs': '—', [`cli --help (median of ${runs})`]: median(times.inline) },
  });
} finally {
  rmSync(lazy, { recursive: true, force: true });
  rmSync(inline, { recursive: true, force: true });
}
