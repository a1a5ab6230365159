#!/usr/bin/env node
// Runs every test suite in order and closes with one line "N passed, N failed, N skipped" over all
// of them (skipped: mocha's pending tests and Python's skipTest, each with the reason it printed).
// Usage: node scripts/test.mjs [suite…]   (default: every suite without `optIn`)
// team runs the integration folder again as a team server: a throwaway PostgreSQL cluster for
// metadata and an S3 bucket (s3rver) for blobs. integration-pg and team-blobs change one of the two
// (for narrowing down a failure); they are not part of the default run.
// A suite whose folder has no tests yet is skipped; a suite that crashes counts as a failure.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

const SUITES = {
  // Import boundaries, browser-safe core and the OpenAPI contract (scripts/lint.mjs); each check counts as one test.
  lint: { cmd: ['node', ['scripts/lint.mjs']], always: true },
  unit: { dir: 'test/unit', cmd: mocha('test/unit') },
  integration: { dir: 'test/integration', cmd: mocha('test/integration') },
  team: { dir: 'test/integration', cmd: mocha('test/integration'), env: { AMPHORA_TEST_DB: 'postgres', AMPHORA_TEST_BLOBS: 's3' } },
  'integration-pg': { dir: 'test/integration', cmd: mocha('test/integration'), env: { AMPHORA_TEST_DB: 'postgres' }, optIn: true },
  'team-blobs': { dir: 'test/integration', cmd: mocha('test/integration'), env: { AMPHORA_TEST_BLOBS: 's3' }, optIn: true },
  // A hostile server on loopback against both clients (needs dist/ built, as `npm test` does).
  security: { dir: 'test/security', cmd: mocha('test/security') },
  webview: { dir: 'test/webview', cmd: mocha('test/webview') },
  python: { dir: 'python/tests', cmd: ['python3', ['-m', 'unittest', 'discover', '-s', 'python/tests', '-t', 'python', '-v']] },
  // A real editor in a real browser: one retry per test, and a pass on the retry is printed as
  // FLAKY and counted in the summary (test/e2e/retries.ts).
  e2e: { dir: 'test/e2e', cmd: mocha('test/e2e', ['--retries', '1', '--require', 'test/e2e/retries.ts']) },
};

function mocha(dir, extra = []) {
  return ['npx', ['mocha', '--recursive', ...extra, `${dir}/**/*.test.ts`]];
}

function hasTests(dir) {
  if (!existsSync(dir)) return false;
  const walk = (d) =>
    readdirSync(d, { withFileTypes: true }).some((e) =>
      e.isDirectory() ? walk(`${d}/${e.name}`) : /(\.test\.ts|^test_.*\.py)$/.test(e.name),
    );
  return walk(dir);
}

function run([cmd, args], env = {}) {
  return new Promise((resolve) => {
    let out = '';
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
    child.stderr.on('data', (d) => { out += d; process.stderr.write(d); });
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

function count(name, out, code) {
  const num = (re) => Number((out.match(re) ?? [])[1] ?? 0);
  if (name === 'python') {
    const ran = num(/^Ran (\d+) tests?/m);
    const failed = num(/failures=(\d+)/) + num(/errors=(\d+)/);
    const skipped = num(/skipped=(\d+)/);
    return { passed: ran - failed - skipped, failed: failed || (code !== 0 ? 1 : 0), skipped };
  }
  if (name === 'lint') {
    const m = out.match(/^(\d+) passed, (\d+) failed$/m);
    return { passed: Number(m?.[1] ?? 0), failed: Number(m?.[2] ?? 0) || (code !== 0 ? 1 : 0), skipped: 0 };
  }
  const passed = num(/^\s*(\d+) passing/m);
  const failed = num(/^\s*(\d+) failing/m);
  const flaky = (out.match(/^\s*FLAKY: /gm) ?? []).length;
  return { passed, failed: failed || (code !== 0 ? 1 : 0), skipped: num(/^\s*(\d+) pending/m), flaky };
}

const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(SUITES).filter((n) => !SUITES[n].optIn);
const totals = { passed: 0, failed: 0, skipped: 0 };
const rows = [];
for (const name of wanted) {
  const suite = SUITES[name];
  if (!suite) { console.error(`unknown suite "${name}"; suites are: ${Object.keys(SUITES).join(', ')}`); process.exit(2); }
  if (!suite.always && !hasTests(suite.dir)) { rows.push(`${name}: no tests`); continue; }
  console.log(`\n=== ${name} ===`);
  const { code, out } = await run(suite.cmd, suite.env);
  const c = count(name, out, code);
  totals.passed += c.passed;
  totals.failed += c.failed;
  totals.skipped += c.skipped;
  rows.push(`${name}: ${c.passed} passed${c.flaky ? ` (${c.flaky} only on a retry: see FLAKY above)` : ''}, ${c.failed} failed, ${c.skipped} skipped`);
}
console.log('\n' + rows.join('\n'));
console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed ? 1 : 0);
