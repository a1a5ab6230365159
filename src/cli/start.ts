/**
 * Entry of `dist/cli.mjs`. Turns on Node's on-disk compile cache before the CLI's modules are
 * parsed (module.enableCompileCache, Node ≥ 22.1: later runs skip compiling them); Node 20 has
 * no such API for ES modules, so there it is skipped. Then runs the command (main.ts).
 */
import module from 'node:module';
import { exitQuietlyWhenReaderLeaves } from './closedPipe.js';

(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
exitQuietlyWhenReaderLeaves(process.stdout);
exitQuietlyWhenReaderLeaves(process.stderr);
await import('./main.js');
