import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { callerSite, captureProvenance, DIFF_LIMIT, stripCredentials } from '../../src/client/provenance.js';

const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: gitEnv }).toString().trim();

function makeRepo(dir: string, remote: string | null = 'https://alice:s3cret@example.com/team/proj.git'): string {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'train.ts'), 'console.log(1)\n');
  git(dir, 'add', 'train.ts');
  git(dir, 'commit', '-q', '-m', 'first');
  if (remote) git(dir, 'remote', 'add', 'origin', remote);
  return git(dir, 'rev-parse', 'HEAD');
}

describe('client: code provenance in real git repositories (issue 11)', function () {
  this.timeout(60_000);
  let tmp: string;
  beforeEach(() => (tmp = realpathSync(mkdtempSync(join(tmpdir(), 'amphora-prov-')))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('a clean tree: program relative to the work tree, commit, branch, remote without credentials', async () => {
    const repo = join(tmp, 'repo');
    const commit = makeRepo(repo);
    mkdirSync(join(repo, 'src'));
    writeFileSync(join(repo, 'src', 'run.ts'), '');
    git(repo, 'add', 'src/run.ts');
    git(repo, 'commit', '-q', '-m', 'program');
    const head = git(repo, 'rev-parse', 'HEAD');
    appendFileSync(join(repo, '.git', 'info', 'exclude'), '*.log\n');
    writeFileSync(join(repo, 'out.log'), ''); // ignored: not counted
    const { provenance, diff } = await captureProvenance({ program: join(repo, 'src', 'run.ts'), cwd: tmp });
    assert.deepEqual(provenance, {
      program: 'src/run.ts',
      root: repo,
      git: { commit: head, branch: 'main', remote: 'https://example.com/team/proj.git', dirty: false, untracked: 0, diffFile: null, diffTruncated: false },
    });
    assert.notEqual(head, commit);
    assert.equal(diff, null);
  });

  it('untracked files that are not ignored make the tree dirty, are counted, and are listed by name (not content) after the diff', async () => {
    const repo = join(tmp, 'repo');
    makeRepo(repo, null);
    mkdirSync(join(repo, 'data'));
    writeFileSync(join(repo, 'data', 'new file.csv'), 'SECRET-CONTENT\n');
    writeFileSync(join(repo, 'notes.txt'), 'SECRET-CONTENT\n');
    appendFileSync(join(repo, '.git', 'info', 'exclude'), '*.log\n');
    writeFileSync(join(repo, 'ignored.log'), '');
    let got = await captureProvenance({ program: join(repo, 'train.ts') });
    assert.deepEqual([got.provenance.git?.dirty, got.provenance.git?.untracked, got.provenance.git?.diffFile], [true, 2, 'code/git.diff']);
    const text = got.diff!.toString();
    assert.match(text, /^# 2 untracked files \(names only, not in the diff\):\n# \?\? data\/new file\.csv\n# \?\? notes\.txt\n$/);
    appendFileSync(join(repo, 'train.ts'), 'console.log(2)\n');
    got = await captureProvenance({ program: join(repo, 'train.ts') });
    const both = got.diff!.toString();
    assert.ok(both.indexOf('+console.log(2)') < both.indexOf('# 2 untracked files'), both);
    assert.ok(!both.includes('SECRET-CONTENT') && !both.includes('ignored.log'));
  });

  it('a dirty tree: the diff is kept, bounded to 1 MiB', async () => {
    const repo = join(tmp, 'repo');
    makeRepo(repo, null);
    appendFileSync(join(repo, 'train.ts'), 'console.log(2)\n');
    let got = await captureProvenance({ program: join(repo, 'train.ts') });
    assert.equal(got.provenance.git?.dirty, true);
    assert.equal(got.provenance.git?.remote, null);
    assert.equal(got.provenance.git?.diffFile, 'code/git.diff');
    assert.equal(got.provenance.git?.diffTruncated, false);
    assert.match(got.diff!.toString(), /\+console\.log\(2\)/);
    appendFileSync(join(repo, 'train.ts'), 'const x = 1; // padding\n'.repeat(80_000));
    got = await captureProvenance({ program: join(repo, 'train.ts') });
    assert.equal(got.provenance.git?.diffTruncated, true);
    assert.equal(got.diff!.length, DIFF_LIMIT);
  });

  it('no git repository, no commit yet, or no git installed: git is null and nothing fails', async () => {
    const plain = join(tmp, 'plain');
    mkdirSync(plain);
    writeFileSync(join(plain, 'main.ts'), '');
    assert.deepEqual((await captureProvenance({ program: join(plain, 'main.ts'), cwd: plain })).provenance, { program: 'main.ts', root: plain, git: null });
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    git(empty, 'init', '-q');
    writeFileSync(join(empty, 'x.ts'), '');
    assert.equal((await captureProvenance({ program: join(empty, 'x.ts'), cwd: empty })).provenance.git, null);
    const repo = join(tmp, 'repo');
    makeRepo(repo);
    const missing = await captureProvenance({ program: join(repo, 'train.ts'), cwd: repo, gitBinary: join(tmp, 'no-such-git') });
    assert.equal(missing.provenance.git, null);
    assert.equal(missing.provenance.program, 'train.ts');
  });

  it('strips credentials from remote URLs', () => {
    assert.equal(stripCredentials('https://user:tok@host.example/x.git'), 'https://host.example/x.git');
    assert.equal(stripCredentials('https://ghp_token@github.com/a/b'), 'https://github.com/a/b');
    assert.equal(stripCredentials('ssh://git:pw@host/x.git'), 'ssh://git@host/x.git');
    assert.equal(stripCredentials('git@github.com:a/b.git'), 'git@github.com:a/b.git');
  });

  it('the call site is the first frame outside the SDK folder', () => {
    const here = fileURLToPath(import.meta.url);
    const site = callerSite(dirname(here)); const line = Number(new Error().stack!.split('\n')[1].match(/:(\d+):\d+\)?$/)![1]);
    assert.deepEqual(site, { file: basename(here), line });
    // With this test's folder as "the SDK", what remains are mocha's frames in node_modules: no call site.
    assert.equal(callerSite(null, dirname(here)), undefined);
  });
});
