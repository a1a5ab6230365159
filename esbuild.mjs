// Bundles every runnable part. Server and CLI are ESM because PGlite finds its WASM files
// relative to its module URL (a CommonJS bundle fails with ERR_INVALID_URL); the extension is
// CommonJS because VS Code loads it with require; the webview is a browser IIFE.
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
// --outdir=DIR builds somewhere else than dist/ (the .vsix is packaged from a private staging
// folder, so packaging never races with test runs rebuilding dist/).
const outdir = (process.argv.find((a) => a.startsWith('--outdir=')) ?? '--outdir=dist').slice('--outdir='.length);

// ESM bundles of CommonJS dependencies (fastify, undici) still call require() for builtins.
const esmBanner = {
  js: "import { createRequire as __amphoraCreateRequire } from 'node:module'; const require = __amphoraCreateRequire(import.meta.url);",
};

// Cloud SDKs for s3:// and gs:// references are imported dynamically by src/client/references/ and
// built into their own bundles under vendor/, loaded only when such a reference is added or
// downloaded: the CLI and the extension stay small and start as fast as without them. A static
// import elsewhere (the server's S3 blob store) is bundled as usual.
const LAZY_VENDOR = {
  '@aws-sdk/client-s3': 'vendor/aws-s3.mjs',
  '@google-cloud/storage': 'vendor/gcs.mjs',
};
const lazyVendor = {
  name: 'lazy-vendor',
  setup(build) {
    const filter = new RegExp(`^(${Object.keys(LAZY_VENDOR).map((k) => k.replace(/[/.]/g, '\\$&')).join('|')})$`);
    build.onResolve({ filter }, (args) => (args.kind === 'dynamic-import' ? { path: `./${LAZY_VENDOR[args.path]}`, external: true } : undefined));
  },
};

const targets = [
  { entry: 'src/server/main.ts', outfile: join(outdir, 'server.mjs'), platform: 'node', format: 'esm', banner: esmBanner },
  // Child process that creates a fresh PGlite cluster (src/server/store/createCluster.ts).
  { entry: 'src/server/store/initdbMain.ts', outfile: join(outdir, 'initdb.mjs'), platform: 'node', format: 'esm', banner: esmBanner },
  { entry: 'src/cli/main.ts', outfile: join(outdir, 'cli.mjs'), platform: 'node', format: 'esm', banner: esmBanner, plugins: [lazyVendor] },
  { entry: 'src/extension/extension.ts', outfile: join(outdir, 'extension.cjs'), platform: 'node', format: 'cjs', external: ['vscode'], plugins: [lazyVendor] },
  ...Object.entries(LAZY_VENDOR).map(([pkg, out]) => ({
    stdin: { contents: `export * from '${pkg}';`, resolveDir: process.cwd(), sourcefile: `${pkg}.vendor.js` },
    outfile: join(outdir, out),
    platform: 'node',
    format: 'esm',
    banner: esmBanner,
    // The packages' ES module builds, so the bundle keeps named exports (a CommonJS build
    // bundled as ESM would only have a default export).
    mainFields: ['module', 'main'],
  })),
  { entry: 'src/webview/lineage/main.ts', outfile: join(outdir, 'webview/lineage.js'), platform: 'browser', format: 'iife' },
].filter((t) => t.stdin || existsSync(t.entry));

mkdirSync(outdir, { recursive: true });
// PGlite's runtime files must sit next to the ESM bundles that load it.
const pgliteDist = dirname(require.resolve('@electric-sql/pglite'));
for (const f of ['pglite.wasm', 'pglite.data', 'initdb.wasm']) {
  const from = join(pgliteDist, f);
  if (existsSync(from)) copyFileSync(from, join(outdir, f));
}

const contexts = await Promise.all(
  targets.map((t) =>
    esbuild.context({
      ...(t.stdin ? { stdin: t.stdin } : { entryPoints: [t.entry] }),
      outfile: t.outfile,
      bundle: true,
      platform: t.platform,
      format: t.format,
      target: t.platform === 'node' ? 'node20' : 'chrome120',
      external: t.external ?? [],
      banner: t.banner,
      plugins: t.plugins ?? [],
      ...(t.mainFields ? { mainFields: t.mainFields } : {}),
      sourcemap: production ? false : 'linked',
      minify: production,
      logLevel: 'warning',
      legalComments: 'none',
    }),
  ),
);
if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
  console.log(`built ${targets.map((t) => t.outfile).join(', ')}`);
}
