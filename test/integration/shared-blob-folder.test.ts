/**
 * Replicas sharing one `file:` blob folder: a blob one replica received is made durable by the
 * replica that commits over it, not only by the next flush of the one that received it. Each
 * replica's store runs in its own process; which blob files get fsynced is read from strace.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const STORE = path.join(REPO, 'src', 'server', 'blobs', 'localBlobs.ts');

/** Runs `body` (ESM, `store` = a LocalBlobStore on `root`) in a fresh Node process under strace; returns the fsync/syncfs lines. */
function replica(root: string, body: string): { syncs: string[]; stderr: string } {
  const script = `import { LocalBlobStore } from ${JSON.stringify(STORE)};\nconst store = new LocalBlobStore(${JSON.stringify(root)});\nawait store.init();\n${body}\n`;
  const r = spawnSync('strace', ['-f', '-y', '-qq', '-e', 'trace=fsync,fdatasync,syncfs', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  return { syncs: r.stderr.split('\n').filter((l) => /\b(fsync|fdatasync|syncfs)\(/.test(l)), stderr: r.stderr };
}

describe('replicas on one shared blob folder (file:)', function () {
  this.timeout(120_000);
  let root: string;
  before(function () {
    if (spawnSync('strace', ['-V']).status !== 0) throw new Error('strace is needed (scripts/setup.sh installs it)');
    root = mkdtempSync(path.join(tmpdir(), 'amphora-shared-blobs-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("a commit's flush on replica B fsyncs the blobs replica A received and never synced", () => {
    const bytes = randomBytes(4096);
    const digest = createHash('sha256').update(bytes).digest('hex');
    // Replica A receives the blob and ends without a flush (as if it were killed before its next one).
    const a = replica(root, `await store.putBytes(${JSON.stringify(digest)}, Buffer.from(${JSON.stringify(bytes.toString('base64'))}, 'base64'));`);
    assert.ok(!a.syncs.some((l) => l.includes(digest)), 'A never synced it');
    // Replica B commits over it: its flush names the blobs of the manifest.
    const b = replica(root, `await store.flush([${JSON.stringify(digest)}]);`);
    assert.ok(
      b.syncs.some((l) => /^(\[pid +\d+\] )?fsync\(/.test(l) && l.includes(`/sha256/${digest.slice(0, 2)}/${digest}>`)),
      `B fsynced the blob file:\n${b.syncs.join('\n')}`,
    );
    assert.ok(b.syncs.some((l) => l.includes(`/sha256/${digest.slice(0, 2)}>`)), 'and its folder (the rename)');
    // A flush that names nothing syncs nothing it did not write.
    const idle = replica(root, 'await store.flush();');
    assert.ok(!idle.syncs.some((l) => l.includes(digest)));
  });

  it('many such blobs are made durable with one syncfs of the folder, and a replica does not sync what it already synced', () => {
    const blobs = Array.from({ length: 40 }, () => randomBytes(512));
    const digests = blobs.map((b) => createHash('sha256').update(b).digest('hex'));
    replica(root, `for (const b of ${JSON.stringify(blobs.map((b) => b.toString('base64')))}) { const bytes = Buffer.from(b, 'base64'); await store.putBytes((await import('node:crypto')).createHash('sha256').update(bytes).digest('hex'), bytes); }`);
    const b = replica(root, `await store.flush(${JSON.stringify(digests)}); process.stderr.write('second flush\\n'); await store.flush(${JSON.stringify(digests)});`);
    const [first, second] = b.stderr.split('second flush');
    assert.ok(/syncfs\(/.test(first), `one syncfs for 40 blobs:\n${b.syncs.join('\n')}`);
    assert.ok(!/syncfs\(|fsync\(/.test(second), 'the second flush knows they are durable');
  });
});
