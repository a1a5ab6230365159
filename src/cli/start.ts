/**
 * Entry of `dist/cli.mjs`. The commands themselves are CommonJS bundles next to it (esbuild.mjs):
 * cli-main.cjs (argument parsing, every command) and cli-sdk.cjs (the SDK, loaded by commands that
 * talk to the server), run through V8's code cache (codeCache.ts). From source, main.ts is imported
 * directly.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { exitQuietlyWhenReaderLeaves } from './closedPipe.js';
import { runBundle } from './codeCache.js';

exitQuietlyWhenReaderLeaves(process.stdout);
exitQuietlyWhenReaderLeaves(process.stderr);
const bundle = fileURLToPath(new URL('./cli-main.cjs', import.meta.url));
if (existsSync(bundle)) runBundle(bundle);
else await import('./main.js');
