// Bundles every runnable part. Server and CLI are ESM because PGlite finds its WASM files
// relative to its module URL (a CommonJS bundle fails with ERR_INVALID_URL); the extension is
// CommonJS because VS Code loads it with require; the webview is a browser IIFE.
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path, { dirname, join } from 'node:path';
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

// zod re-exports every locale it ships (`z.locales.*`, ~370 KB, a quarter of the CLI's SDK bundle)
// although only English is ever configured (its schemas import en.js directly). Nothing here reads
// z.locales, so that namespace keeps English alone: less to load and compile at every start.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer) ? { path: join(dirname(args.importer), '../locales/en.js') } : undefined,
    );
  },
};

// Node programs (server, initdb child, CLI) are built together with code splitting: a command
// loads only the chunks it imports (`amphora --help` does not parse the server, PGlite, undici or
// zod), and the server code is shared by `dist/server.mjs` and `amphora serve`. Chunks sit in
// outdir itself, not a subfolder, because PGlite and createCluster.ts find their files next to
// the module that contains them (and vendor/ bundles are imported as ./vendor/…).
const nodePrograms = {
  // initdb: the child process that creates a fresh PGlite cluster (src/server/store/createCluster.ts).
  // serve: the server as `amphora serve` imports it (from cli-main.cjs, below).
  // cli: the `amphora` entry; its commands are the CommonJS bundles below, so its source-only
  // fallback (`import('./main.js')`) stays external instead of duplicating them as chunks.
  entries: { server: 'src/server/main.ts', initdb: 'src/server/store/initdbMain.ts', serve: 'src/server/index.ts', cli: 'src/cli/start.ts' },
  platform: 'node',
  format: 'esm',
  banner: esmBanner,
  plugins: [lazyVendor, zodEnglishOnly, externalFrom(/src[\\/]cli[\\/]start\.ts$/, { './main.js': './main.js' })],
};

/** Marks the given imports of matching files external, under the given path. */
function externalFrom(importer, paths) {
  return {
    name: 'external-from',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => (importer.test(args.importer) && paths[args.path] ? { path: paths[args.path], external: true } : undefined));
    },
  };
}

// The CLI's commands as CommonJS, so src/cli/codeCache.ts can run them with V8's code cache (Node
// 20 has none for ES modules): cli-main.cjs parses arguments and runs every command; commands that
// talk to the server load cli-sdk.cjs (undici, zod, the SDK), so `amphora --help` never compiles
// those; `serve` imports the ESM server (serve.mjs: PGlite finds its WASM files next to it).
const cjsImportMetaUrl = {
  define: { 'import.meta.url': '__amphoraModuleUrl' },
  banner: {
    js: [
      "var __amphoraModuleUrl = require('node:url').pathToFileURL(__filename).href;",
      // See siblingImportHook: import() of a file next to the bundle, through src/cli/codeCache.ts.
      "var __amphoraImport = (s) => { const u = require('node:url').pathToFileURL(require('node:path').resolve(__dirname, s)).href; const f = globalThis[Symbol.for('amphora.cli.import')]; return f ? f(u) : import(u); };",
    ].join('\n'),
  },
};

/**
 * Code V8 restores from a code cache has no dynamic-import callback, so the CLI bundles must not
 * call import() themselves: each `import("./…")` of a sibling file becomes `__amphoraImport("./…")`
 * (banner above), which imports through the hook src/cli/codeCache.ts publishes. A literal import()
 * left behind fails the build.
 */
const siblingImportHook = {
  name: 'sibling-import-hook',
  setup(build) {
    build.initialOptions.write = false;
    build.onEnd(async (result) => {
      for (const f of result.outputFiles ?? []) {
        let text = f.text;
        if (f.path.endsWith('.cjs')) {
          text = text.replace(/\bimport\((["'])(\.\/[^"']+)\1\)/g, '__amphoraImport("$2")');
          const left = /^(?!\s*(?:\/\/|\*)).*\bimport\((["'`]).*$/m.exec(text);
          if (left) throw new Error(`${f.path}: a literal import() is left after rewriting: ${left[0].trim().slice(0, 120)}`);
        }
        mkdirSync(dirname(f.path), { recursive: true });
        writeFileSync(f.path, text);
      }
    });
  },
};
const cliBundles = [
  {
    entry: 'src/cli/main.ts',
    outfile: join(outdir, 'cli-main.cjs'),
    platform: 'node',
    format: 'cjs',
    ...cjsImportMetaUrl,
    plugins: [externalFrom(/src[\\/]cli[\\/]main\.ts$/, { './sdk.js': './cli-sdk.cjs', '../server/index.js': './serve.mjs' }), siblingImportHook],
  },
  { entry: 'src/cli/sdk.ts', outfile: join(outdir, 'cli-sdk.cjs'), platform: 'node', format: 'cjs', ...cjsImportMetaUrl, plugins: [lazyVendor, zodEnglishOnly, siblingImportHook] },
];
const targets = [
  { entry: 'src/extension/extension.ts', outfile: join(outdir, 'extension.cjs'), platform: 'node', format: 'cjs', external: ['vscode'], plugins: [lazyVendor, zodEnglishOnly] },
  ...cliBundles,
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
  { entry: 'src/webview/lineage/main.ts', outfile: join(outdir, 'webview/lineage.js'), platform: 'browser', format: 'iife', plugins: [zodEnglishOnly] },
  // Run view, run comparison and experiments table: one bundle, the first message picks the page.
  { entry: 'src/webview/run/main.ts', outfile: join(outdir, 'webview/run.js'), platform: 'browser', format: 'iife', plugins: [zodEnglishOnly] },
].filter((t) => t.stdin || existsSync(t.entry));

mkdirSync(outdir, { recursive: true });
// PGlite's runtime files must sit next to the ESM bundles that load it.
const pgliteDist = dirname(require.resolve('@electric-sql/pglite'));
for (const f of ['pglite.wasm', 'pglite.data', 'initdb.wasm']) {
  const from = join(pgliteDist, f);
  if (existsSync(from)) copyFileSync(from, join(outdir, f));
}

const common = (platform) => ({
  bundle: true,
  platform,
  target: platform === 'node' ? 'node20' : 'chrome120',
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
  legalComments: 'none',
});
const contexts = await Promise.all([
  esbuild.context({
    ...common(nodePrograms.platform),
    entryPoints: nodePrograms.entries,
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
    splitting: true,
    format: nodePrograms.format,
    banner: nodePrograms.banner,
    plugins: nodePrograms.plugins,
    metafile: true,
  }),
  ...targets.map((t) =>
    esbuild.context({
      ...common(t.platform),
      ...(t.stdin ? { stdin: t.stdin } : { entryPoints: [t.entry] }),
      outfile: t.outfile,
      format: t.format,
      external: t.external ?? [],
      banner: t.banner,
      plugins: t.plugins ?? [],
      ...(t.define ? { define: t.define } : {}),
      ...(t.mainFields ? { mainFields: t.mainFields } : {}),
    }),
  ),
]);

/** Removes chunks of earlier builds (their names carry a content hash, so they pile up). */
function removeStaleChunks(result) {
  const current = new Set(Object.keys(result.metafile.outputs).map((f) => path.resolve(f)));
  for (const f of readdirSync(outdir)) {
    if (/^chunk-[A-Z0-9]+\.mjs(\.map)?$/.test(f) && !current.has(path.resolve(outdir, f))) rmSync(join(outdir, f), { force: true });
  }
}

if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  const [programs] = await Promise.all(contexts.map((c) => c.rebuild()));
  removeStaleChunks(programs);
  await Promise.all(contexts.map((c) => c.dispose()));
  const entries = Object.keys(nodePrograms.entries).map((n) => join(outdir, `${n}.mjs`));
  console.log(`built ${[...entries, ...targets.map((t) => t.outfile)].join(', ')} (+ shared chunk-*.mjs)`);
}
