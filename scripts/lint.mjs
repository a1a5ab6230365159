#!/usr/bin/env node
// `npm run lint`: the checks that keep the house in order, each printed as one ✔/✘ line and closed
// with "N passed, N failed" (scripts/test.mjs counts them in its totals):
//   boundaries     dependency-cruiser (.dependency-cruiser.cjs): which room of src/ may import which
//   browser-safe   src/core/*.ts and src/webview type-checked without Node's types (no Buffer, process)
//   openapi        the served OpenAPI document against Redocly's recommended rules, warnings included
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `out` is stdout and stderr interleaved; `stdout` alone, for tools that print a JSON report. */
function run(cmd, args) {
  return new Promise((resolve) => {
    let out = '';
    let stdout = '';
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => ((out += d), (stdout += d)));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (e) => resolve({ code: 1, out: `${out}${cmd}: ${e.message}`, stdout }));
    child.on('close', (code) => resolve({ code: code ?? 1, out, stdout }));
  });
}

const bin = (name) => join('node_modules', '.bin', name);

const checks = {
  boundaries: async () => {
    const r = await run(bin('depcruise'), ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err']);
    return { ok: r.code === 0, detail: r.out };
  },
  'browser-safe': async () => {
    const r = await run(bin('tsc'), ['-p', 'tsconfig.browser.json', '--noEmit']);
    return { ok: r.code === 0, detail: r.out };
  },
  openapi: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'amphora-lint-'));
    try {
      const doc = join(dir, 'openapi.json');
      const dump = await run(bin('tsx'), ['scripts/dump-openapi.ts', doc]);
      if (dump.code !== 0) return { ok: false, detail: dump.out };
      const lint = await run(bin('redocly'), ['lint', doc, '--config', 'redocly.yaml', '--format', 'json']);
      let totals;
      let problems = [];
      try {
        ({ totals, problems } = JSON.parse(lint.stdout));
      } catch {
        return { ok: false, detail: `redocly wrote no JSON report (exit ${lint.code}):\n${lint.out}` };
      }
      const lines = problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer ?? '?'}`);
      return { ok: lint.code === 0 && totals.errors === 0 && totals.warnings === 0, detail: lines.join('\n') || lint.out };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(checks);
let passed = 0;
let failed = 0;
for (const name of wanted) {
  if (!checks[name]) {
    console.error(`unknown check "${name}"; checks are: ${Object.keys(checks).join(', ')}`);
    process.exit(2);
  }
  const { ok, detail } = await checks[name]();
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? '✔' : '✘'} ${name}`);
  if (!ok) console.log(detail.trim().replace(/^/gm, '    '));
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
