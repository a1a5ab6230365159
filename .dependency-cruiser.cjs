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

/** A forbidden import: modules matching `from` may not import modules matching `to`. Every rule is an error. */
const forbid = (name, comment, from, to) => ({ name, comment, severity: 'error', from, to });
/** The room src/<room>/ may import nothing from the rooms named in `others` (a regex alternation). */
const roomNotInto = (name, comment, room, others) => forbid(name, comment, { path: `^src/${room}/` }, { path: `^src/(${others})/` });

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    forbid(
      'vscode-only-in-extension',
      'Only src/extension may import vscode; the logic it shows lives in core/ and client/, tested in plain Node.',
      { pathNot: '^src/extension/' },
      { path: '^(vscode$|node_modules/@types/vscode/)' },
    ),
    forbid(
      'browser-safe-imports-browser-safe',
      'src/core/*.ts and src/webview run in the browser (the lineage webview): they may import only each other, zod, d3 and dagre. ' +
        'Node built-ins, process-dependent modules and Node-only core belong in src/core/node/.',
      { path: BROWSER_SAFE },
      { pathNot: [BROWSER_SAFE, '^node_modules/(zod|d3|d3-[a-z-]+|@dagrejs/dagre)/'] },
    ),
    roomNotInto(
      'core-imports-no-room',
      'core is the bottom layer: it imports no client, server, cli, extension or webview code.',
      'core',
      'client|server|cli|extension|webview',
    ),
    roomNotInto(
      'server-not-client',
      'The server and the SDK meet only over HTTP and the schemas in core/api.ts.',
      'server',
      'client|cli|extension|webview',
    ),
    roomNotInto(
      'client-not-server',
      'The SDK talks to any server over HTTP; it never loads server code (nor the CLI or editor above it).',
      'client',
      'server|cli|extension|webview',
    ),
    forbid(
      'cli-loads-server-only-lazily',
      'The CLI reaches the server only through the dynamic import of src/server/index.ts in `amphora serve`, ' +
        'so every other command starts without parsing the server, PGlite or Fastify.',
      { path: '^src/cli/' },
      { path: '^src/server/', dynamic: false },
    ),
    forbid(
      'cli-serve-entry-only',
      'The lazy serve import goes to the server composition root (src/server/index.ts), nothing deeper.',
      { path: '^src/cli/' },
      { path: '^src/server/', pathNot: '^src/server/index\\.ts$' },
    ),
    roomNotInto(
      'cli-not-editor',
      'The CLI is a terminal program: no extension or webview code.',
      'cli',
      'extension|webview',
    ),
    roomNotInto(
      'extension-not-server',
      'The editor starts the bundled server as a separate process (dist/server.mjs) and talks to it over HTTP.',
      'extension',
      'server|cli|webview',
    ),
    forbid(
      'no-cycles',
      'Import cycles make load order matter and modules impossible to understand on their own.',
      {},
      { circular: true },
    ),
    forbid(
      'no-orphans',
      'A module nothing imports and that imports nothing is dead code: delete it or use it.',
      { orphan: true, pathNot: ['\\.d\\.ts$'] },
      {},
    ),
    forbid(
      'no-unresolvable',
      'Every import resolves (vscode resolves to @types/vscode; the editor provides it at run time).',
      {},
      { couldNotResolve: true },
    ),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
