/**
 * The launcher behind "Amphora: Open Terminal with CLI": a real script written to a temp folder
 * and run through a real shell with the repository's CLI bundle, plus the terminal environment and
 * the advice rewritten for editor users.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, symlinkSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cliTerminalEnv, shellQuote, windowsLauncher, writeCliLauncher } from '../../src/extension/logic/cliLauncher.js';
import { EDITOR_START_ADVICE, forEditorUsers } from '../../src/extension/logic/editorAdvice.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(REPO, 'dist', 'cli.mjs');

describe('extension: the bundled CLI launcher', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'amphora-launcher-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the bundled CLI from a PATH that has only its folder, even under paths with spaces and quotes', async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: build first (node esbuild.mjs)`);
    // The extension may live under a folder with a quote or a space in its name.
    const odd = path.join(dir, "it's a dist");
    mkdirSync(odd);
    symlinkSync(CLI, path.join(odd, 'cli.mjs'));
    const binDir = path.join(dir, 'bin dir');
    const file = await writeCliLauncher({ binDir, nodePath: process.execPath, cliPath: path.join(odd, 'cli.mjs'), platform: 'linux' });
    assert.equal(file, path.join(binDir, 'amphora'));
    assert.equal(statSync(file).mode & 0o111, 0o111, 'the launcher is executable');
    const env = cliTerminalEnv({ binDir, currentPath: '/usr/bin:/bin' });
    const out = execFileSync('/bin/sh', ['-c', 'amphora --version'], { env: { ...env, HOME: dir }, encoding: 'utf8' });
    const { version } = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'));
    assert.equal(out.trim(), version);
  });

  it('rewrites an older launcher in place (the extension folder changes on every update)', async () => {
    const binDir = path.join(dir, 'bin');
    await writeCliLauncher({ binDir, nodePath: '/old/node', cliPath: '/old/cli.mjs', platform: 'linux' });
    const file = await writeCliLauncher({ binDir, nodePath: '/new/node', cliPath: '/new/cli.mjs', platform: 'linux' });
    const text = readFileSync(file, 'utf8');
    assert.match(text, /'\/new\/node' '\/new\/cli\.mjs' "\$@"/);
    assert.doesNotMatch(text, /old/);
  });

  it('quotes for sh and refuses paths cmd.exe cannot quote', () => {
    assert.equal(shellQuote("a'b c"), `'a'\\''b c'`);
    assert.match(windowsLauncher('C:\\Code\\Code.exe', 'C:\\ext\\dist\\cli.mjs'), /"C:\\Code\\Code\.exe" "C:\\ext\\dist\\cli\.mjs" %\*/);
    assert.throws(() => windowsLauncher('C:\\a"b\\Code.exe', 'x'), /containing " or %/);
  });

  it('the terminal names a team server the editor signed in to, and nothing for a local one', () => {
    const remote = cliTerminalEnv({ binDir: '/b', currentPath: '/usr/bin', connection: { mode: 'remote', baseUrl: 'https://a.example', apiKey: 'k' }, delimiter: ':' });
    assert.deepEqual(remote, { PATH: '/b:/usr/bin', AMPHORA_BASE_URL: 'https://a.example', AMPHORA_API_KEY: 'k' });
    const local = cliTerminalEnv({ binDir: '/b', currentPath: undefined, connection: { mode: 'local', baseUrl: 'http://127.0.0.1:7411' }, delimiter: ':' });
    assert.deepEqual(local, { PATH: '/b' });
  });

  it('tells editor users what to run instead of a command they do not have', () => {
    const sdk = 'Cannot reach the Amphora server at http://127.0.0.1:1 (ECONNREFUSED). Start one with `amphora serve`, or set AMPHORA_BASE_URL (and AMPHORA_API_KEY) to a running server.';
    const text = forEditorUsers(sdk);
    assert.equal(text, `Cannot reach the Amphora server at http://127.0.0.1:1 (ECONNREFUSED). ${EDITOR_START_ADVICE}`);
    assert.match(text, /Open Terminal with CLI/);
    const discovery = 'No Amphora server found: AMPHORA_BASE_URL is not set and there is no discovery file at /x/server.json. Start one with `amphora serve`, or set AMPHORA_BASE_URL and AMPHORA_API_KEY.';
    assert.match(forEditorUsers(discovery), /discovery file at \/x\/server\.json\. Run "Amphora: Reconnect"/);
    assert.equal(forEditorUsers('version not found'), 'version not found');
  });
});
