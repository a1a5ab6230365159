/**
 * The packaged extension (scripts/package-vsix.sh): it carries the MIT license, its own README
 * (not the repository's) with every image it shows, a CHANGELOG, and a CLI bundle that runs from
 * the package through the launcher that "Open Terminal with CLI" puts on a terminal's PATH.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cliTerminalEnv, writeCliLauncher } from '../../src/extension/logic/cliLauncher.js';

const REPO = path.resolve(import.meta.dirname, '../..');

describe('the .vsix package', function () {
  this.timeout(600_000);
  let dir: string;
  let entries: string[];
  let unpacked: string;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'amphora-vsix-'));
    const vsix = path.join(dir, 'amphora.vsix');
    execFileSync('bash', [path.join(REPO, 'scripts/package-vsix.sh'), vsix], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    entries = execFileSync('python3', ['-c', 'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', vsix], { encoding: 'utf8' }).trim().split('\n');
    unpacked = path.join(dir, 'unpacked');
    execFileSync('python3', ['-m', 'zipfile', '-e', vsix, unpacked]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('carries the MIT license and a CHANGELOG', () => {
    const license = entries.find((e) => /^extension\/LICENSE(\.txt|\.md)?$/i.test(e));
    assert.ok(license, entries.join('\n'));
    assert.match(readFileSync(path.join(unpacked, license), 'utf8'), /^MIT License/);
    const changelog = entries.find((e) => /^extension\/changelog\.md$/i.test(e));
    assert.ok(changelog, entries.join('\n'));
    assert.match(readFileSync(path.join(unpacked, changelog), 'utf8'), /^# Changelog/);
  });

  it('has the extension\'s own README, and every image it shows is in the package', () => {
    const readme = entries.find((e) => /^extension\/readme\.md$/i.test(e));
    assert.ok(readme);
    const text = readFileSync(path.join(unpacked, readme), 'utf8');
    assert.match(text, /^# Amphora for VS Code/);
    assert.doesNotMatch(text, /bash scripts\/setup\.sh/, 'not the repository README with its set-up commands');
    assert.match(text, /Open Terminal with CLI/);
    assert.match(text, /Sign In/);
    const images = [...text.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]);
    assert.ok(images.length >= 3, 'screenshots');
    for (const img of images) {
      assert.ok(!/^https?:/.test(img), `${img} is packaged, not fetched`);
      assert.ok(entries.includes(`extension/${img}`), `${img} is in the package`);
    }
  });

  it('ships the CLI, which runs from the package through the terminal launcher', async () => {
    const cli = path.join(unpacked, 'extension', 'dist', 'cli.mjs');
    assert.ok(existsSync(cli));
    const binDir = path.join(dir, 'bin');
    await writeCliLauncher({ binDir, nodePath: process.execPath, cliPath: cli, platform: 'linux' });
    const out = execFileSync('/bin/sh', ['-c', 'amphora --version && amphora artifact --help'], { env: { ...cliTerminalEnv({ binDir, currentPath: '/usr/bin:/bin' }), HOME: dir }, encoding: 'utf8' });
    assert.match(out, new RegExp(`^${JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version}\\n`));
    assert.match(out, /put/);
  });
});
