#!/usr/bin/env node
// The `amphora` command: the bundled CLI (built by `npm run build`).
import '../dist/cli.mjs';
