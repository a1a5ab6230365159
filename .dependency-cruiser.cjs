// The rooms of src/ and what each may import (README, "Architecture"). `npm run lint` runs this
// with no exceptions file: a violation is fixed in the code, or the rule changes here with a reason.
//
//   core (browser-safe)  src/core/ but node/ zod, d3, dagre and itself only
//   core/node            src/core/node/      + Node built-ins
//   client               src/client/         core, core/node, npm packages
//   server               src/server/         core, core/node, npm packages
//   cli                  src/cli/            client, core; server only through the lazy `serve` import
//   extension            src/extension/      client, core; the only room that imports `vscode`
//   webview              src/webview/        browser-safe core only (it runs in the editor's browser)
const BROWSER_SAFE = '^src/(core/(?!node/).+|webview/.+)\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'vscode-only-in-extension',
      comment: 'Only src/extension may import vscode; the logic it shows lives in core/ and client/, tested in plain Node.',
      severity: 'error',
      from: { pathNot: '^src/extension/' },
      to: { path: '^(vscode$|node_modules/@types/vscode/)' },
    },
    {
      name: 'browser-safe-imports-browser-safe',
      comment:
        'src/core/*.ts and src/webview run in the browser (the lineage webview): they may import only each other, zod, d3 and dagre. ' +
        'Node built-ins, process-dependent modules and Node-only core belong in src/core/node/.',
      severity: 'error',
      from: { path: BROWSER_SAFE },
      to: { pathNot: [BROWSER_SAFE, '^node_modules/(zod|d3|d3-[a-z-]+|@dagrejs/dagre)/'] },
    },
    {
      name: 'core-imports-no-room',
      comment: 'core is the bottom layer: it imports no client, server, cli, extension or webview code.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/(client|server|cli|extension|webview)/' },
    },
    {
      name: 'server-not-client',
      comment: 'The server and the SDK meet only over HTTP and the schemas in core/api.ts.',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^src/(client|cli|extension|webview)/' },
    },
    {
      name: 'client-not-server',
      comment: 'The SDK talks to any server over HTTP; it never loads server code (nor the CLI or editor above it).',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/(server|cli|extension|webview)/' },
    },
    {
      name: 'cli-loads-server-only-lazily',
      comment:
        'The CLI reaches the server only through the dynamic import of src/server/index.ts in `amphora serve`, ' +
        'so every other command starts without parsing the server, PGlite or Fastify.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/server/', dynamic: false },
    },
    {
      name: 'cli-serve-entry-only',
      comment: 'The lazy serve import goes to the server composition root (src/server/index.ts), nothing deeper.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/server/', pathNot: '^src/server/index\\.ts$' },
    },
    {
      name: 'cli-not-editor',
      comment: 'The CLI is a terminal program: no extension or webview code.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/(extension|webview)/' },
    },
    {
      name: 'extension-not-server',
      comment: 'The editor starts the bundled server as a separate process (dist/server.mjs) and talks to it over HTTP.',
      severity: 'error',
      from: { path: '^src/extension/' },
      to: { path: '^src/(server|cli|webview)/' },
    },
    {
      name: 'no-cycles',
      comment: 'Import cycles make load order matter and modules impossible to understand on their own.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      comment: 'A module nothing imports and that imports nothing is dead code: delete it or use it.',
      severity: 'error',
      from: { orphan: true, pathNot: ['\\.d\\.ts$'] },
      to: {},
    },
    {
      name: 'no-unresolvable',
      comment: 'Every import resolves (vscode resolves to @types/vscode; the editor provides it at run time).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
