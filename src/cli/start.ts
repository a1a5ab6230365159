/**
 * Entry of `dist/cli.mjs`. The commands themselves are CommonJS bundles next to it (esbuild.mjs):
 * cli-main.cjs (argument parsing, every command) and cli-sdk.cjs (the SDK, loaded by commands that
 * talk to the server), run through V8's code cache (codeCache.ts). From source, main.ts is imported
 * directly.
 */
import { fileURLToPath } from 'node:url';
import { exitQuietlyWhenReaderLeaves } from './closedPipe.js';
import { runBundle } from './codeCache.js';
import { cliV8Flags, setV8Flags } from './v8Flags.js';

setV8Flags(cliV8Flags(process.argv.slice(2)));
exitQuietlyWhenReaderLeaves(process.stdout);
exitQuietlyWhenReaderLeaves(process.stderr);
// From source (src/cli/start.ts) there is no bundle; a dist/ without one is a broken build and
// fails naming the missing file.
if (import.meta.url.endsWith('.ts')) await import('./main.js');
else runBundle(fileURLToPath(new URL('./cli-main.cjs', import.meta.url)));
