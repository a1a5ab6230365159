/**
 * Tests that drive the built bundles (dist/, made by `node esbuild.mjs`; `npm test` builds first).
 * Locally a missing bundle skips the test and says how to build it; in CI (CI=true) it fails,
 * so a broken build can never pass as "everything green, some skipped".
 */
import { existsSync } from 'node:fs';

export function requireBuilt(ctx: Mocha.Context, file: string): void {
  if (existsSync(file)) return;
  const why = `${file} is missing: build it with \`node esbuild.mjs\` (npm test does)`;
  if (process.env.CI) throw new Error(`${why}; CI must not skip this test`);
  if (ctx.test) ctx.test.title += ` [skipped: ${why}]`;
  ctx.skip();
}
