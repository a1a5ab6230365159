import assert from 'node:assert/strict';
import { parseReference, formatReference } from '../../src/core/reference.js';
import { validateAlias, validateArtifactName } from '../../src/core/names.js';
import { checkPathCollisions, joinInside, validateManifestPath } from '../../src/core/paths.js';
import { artifactDigest, compareCodePoints, validateManifest } from '../../src/core/node/manifest.js';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { AmphoraError } from '../../src/core/errors.js';

const code = (fn: () => unknown, c: string) =>
  assert.throws(fn, (e: unknown) => e instanceof AmphoraError && e.code === c && e.message.length > 20);

describe('core: names (SPEC §1 names and types)', () => {
  it('accepts letters, digits, _ - . up to 128 characters', () => {
    assert.equal(validateArtifactName('mnist-raw_v2.1'), 'mnist-raw_v2.1');
    assert.equal(validateArtifactName('a'.repeat(128)), 'a'.repeat(128));
  });
  it('rejects other characters, empty and over-long names with a message that says what to use', () => {
    for (const bad of ['', 'a'.repeat(129), 'has space', 'slash/name', 'colon:x', 'ü', '..']) code(() => validateArtifactName(bad), 'invalid_name');
  });
  it('reserves vN-shaped strings: never valid aliases', () => {
    code(() => validateAlias('v3'), 'invalid_alias');
    code(() => validateAlias('v0'), 'invalid_alias');
    assert.equal(validateAlias('v3-best'), 'v3-best');
    assert.equal(validateAlias('best-ap50'), 'best-ap50');
  });
});

describe('core: reference grammar', () => {
  it('defaults to latest and parses every form', () => {
    assert.deepEqual(parseReference('mnist-raw'), { entity: undefined, project: undefined, name: 'mnist-raw', selector: 'latest', isVersion: false, explicitSelector: false });
    assert.deepEqual(parseReference('proj/mnist-raw:v2'), { entity: undefined, project: 'proj', name: 'mnist-raw', selector: 'v2', isVersion: true, explicitSelector: true });
    const r = parseReference('team/proj/model:best');
    assert.equal(r.entity, 'team');
    assert.equal(r.project, 'proj');
    assert.equal(r.selector, 'best');
    assert.equal(formatReference(r), 'team/proj/model:best');
  });
  it('rejects malformed references with the grammar in the message', () => {
    for (const bad of ['', 'a/b/c/d', 'x:', 'x:a:b', '/x', 'x//y', 'bad name', 'x:v01', 'x:bad alias']) {
      assert.throws(() => parseReference(bad), (e: unknown) => e instanceof AmphoraError && e.code === 'invalid_reference' && /\[entity\/\]\[project\/\]name/.test(e.message));
    }
  });
});

describe('core: manifest paths', () => {
  it('rejects hostile paths', () => {
    for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'a\\b', 'a\0b', 'a//b', 'a/', '', './a', 'C:/x']) code(() => validateManifestPath(bad), 'invalid_path');
  });
  it('limits a path to 1024 UTF-8 bytes, not characters', () => {
    assert.equal(validateManifestPath('€'.repeat(341)), '€'.repeat(341)); // 1023 bytes
    code(() => validateManifestPath('€'.repeat(342)), 'invalid_path'); // 1026 bytes, 342 characters
  });
  it('accepts and refuses exactly what the path rules say, for every short path over a tricky alphabet', () => {
    // The rules written out plainly, as the oracle for validateManifestPath's one-regex fast path.
    const valid = (p: string) =>
      p !== '' &&
      new TextEncoder().encode(p).length <= 1024 &&
      // eslint-disable-next-line no-control-regex
      !/[\u0000-\u001f\u007f]/.test(p) &&
      !p.includes('\\') &&
      !p.startsWith('/') &&
      !/^[A-Za-z]:/.test(p) &&
      p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
    const alphabet = ['a', '.', '/', '\\', ':', 'C', '\0', '\u007f', '\n', '€', ' '];
    let checked = 0;
    const visit = (p: string) => {
      let ok: boolean;
      try {
        ok = validateManifestPath(p) === p;
      } catch (e) {
        assert.ok(e instanceof AmphoraError && e.code === 'invalid_path', String(e));
        ok = false;
      }
      assert.equal(ok, valid(p), JSON.stringify(p));
      checked++;
      if (p.length < 4) for (const c of alphabet) visit(p + c);
    };
    visit('');
    assert.equal(checked, 1 + 11 + 121 + 1331 + 14641);
    const accepted = (p: string) => {
      try {
        return validateManifestPath(p) === p;
      } catch {
        return false;
      }
    };
    for (const p of ['€'.repeat(341), `${'€'.repeat(340)}/a`, '€'.repeat(342), 'a'.repeat(1024), 'a'.repeat(1025), `${'a/'.repeat(400)}b`, `${'a/'.repeat(400)}./b`]) {
      assert.equal(accepted(p), valid(p), `${p.slice(0, 20)}… (${p.length} characters)`);
    }
  });
  it('rejects a path that is both a file and a folder', () => {
    code(() => checkPathCollisions(['a', 'a/b']), 'invalid_path');
    code(() => checkPathCollisions(['x/y/z', 'x/y']), 'invalid_path');
    checkPathCollisions(['a.txt', 'a/b', 'ab/c']);
  });
  it('joinInside never leaves the root', () => {
    assert.equal(joinInside('/tmp/root', 'a/b.txt', path), '/tmp/root/a/b.txt');
    code(() => joinInside('/tmp/root', '../x', path), 'invalid_path');
    code(() => joinInside('/tmp/root', 'a/../../x', path), 'invalid_path');
    code(() => joinInside('/tmp/root', '/etc/passwd', path), 'invalid_path');
  });
  it('joinInside gives what path.resolve gives, for any root spelling', () => {
    for (const root of ['/tmp/root', '/tmp/root/', '/tmp//root', '/tmp/x/../root', '/', 'rel/dir', '.'])
      for (const p of ['a', 'a/b.txt', 'deep/er/file.bin', '...', '.hidden/x', 'a..b/c', 'x'.repeat(400)])
        assert.equal(joinInside(root, p, path), path.resolve(root, ...p.split('/')), `${root} + ${p}`);
    // Windows joins take the general path.
    assert.equal(joinInside('C:\\data', 'a/b.txt', path.win32), 'C:\\data\\a\\b.txt');
  });
});

describe('core: artifact digest', () => {
  it('is SHA-256 over the prefix and sorted path:digest lines', () => {
    const d1 = 'a'.repeat(64);
    const d2 = 'b'.repeat(64);
    const expected = createHash('sha256').update(`amphora-manifest-v1\nB.txt:${d2}\na.txt:${d1}\n`).digest('hex');
    assert.equal(artifactDigest({ 'a.txt': { digest: d1, size: 1 }, 'B.txt': { digest: d2, size: 2 } }), expected);
  });
  it('sorts by code point, not UTF-16 units', () => {
    // U+FF5E (one UTF-16 unit) sorts before U+1F600 (a surrogate pair) by code point, but not by unit.
    assert.ok(compareCodePoints('\uff5e', '\u{1f600}') < 0);
    const d1 = 'a'.repeat(64);
    const d2 = 'b'.repeat(64);
    const expected = createHash('sha256').update(`amphora-manifest-v1\n\uff5e:${d1}\n\u{1f600}:${d2}\n`).digest('hex');
    assert.equal(artifactDigest({ '\u{1f600}': { digest: d2, size: 1 }, '\uff5e': { digest: d1, size: 1 } }), expected);
  });
  it('orders every pair of strings over BMP, surrogate-pair and lone-surrogate characters exactly by code point', () => {
    // The plain rule: compare the code points one by one (a lone surrogate is its own code point).
    const byCodePoint = (a: string, b: string) => {
      const x = [...a].map((c) => c.codePointAt(0)!);
      const y = [...b].map((c) => c.codePointAt(0)!);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
      return x.length - y.length;
    };
    const chars = ['a', 'b', '/', '\u00e9', '\ud7ff', '\ue000', '\uff5e', '\uffff', '\u{10000}', '\u{1f600}', '\u{10ffff}', '\ud800', '\udc00', '\udbff'];
    const strings = [''];
    for (const c of chars) for (const d of ['', ...chars]) strings.push(c + d);
    for (const a of strings) for (const b of strings) assert.equal(Math.sign(compareCodePoints(a, b)), Math.sign(byCodePoint(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  });
  it('ignores description, metadata and aliases (only path and digest count)', () => {
    const m = { x: { digest: 'c'.repeat(64), size: 3 } };
    assert.equal(artifactDigest(m), artifactDigest({ x: { digest: 'c'.repeat(64), size: 999, extra: { k: 1 } } }));
  });
  it('validateManifest totals sizes and rejects bad digests', () => {
    assert.equal(validateManifest({ a: { digest: 'd'.repeat(64), size: 5 }, b: { digest: 'https://x/y', size: 1, ref: 'https://x/y' } }), 6);
    code(() => validateManifest({ a: { digest: 'xyz', size: 1 } }), 'invalid_manifest');
    code(() => validateManifest({ a: { digest: 'd'.repeat(64), size: -1 } }), 'invalid_manifest');
  });
});

describe('core: formatBytes (one size format for CLI, tree, CodeLens, lineage and diff)', () => {
  it('uses binary units named as such, one decimal below 10', async () => {
    const { formatBytes } = await import('../../src/core/bytes.js');
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1024), '1.0 KiB');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(10 * 1024 - 1), '10 KiB');
    assert.equal(formatBytes(48 * 1024 ** 2), '48 MiB');
    assert.equal(formatBytes(1024 ** 2 - 1), '1.0 MiB'); // rounding carries into the next unit
    assert.equal(formatBytes(3 * 1024 ** 3), '3.0 GiB');
    assert.equal(formatBytes(2 * 1024 ** 6), '2048 PiB');
    assert.equal(formatBytes(-1), '?');
    assert.equal(formatBytes(Number.NaN), '?');
  });
});

describe('core: Limiter', () => {
  it('runs at most `limit` tasks at once, in order, and frees its slot when a task fails', async () => {
    const { Limiter } = await import('../../src/core/limiter.js');
    const limiter = new Limiter(2);
    let active = 0;
    let peak = 0;
    const started: number[] = [];
    const task = (i: number) =>
      limiter.run(async () => {
        started.push(i);
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 5));
        active--;
        if (i === 1) throw new Error('task 1 fails');
        return i;
      });
    const results = await Promise.allSettled([0, 1, 2, 3, 4].map(task));
    assert.equal(peak, 2);
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.equal(results[1].status, 'rejected');
    assert.deepEqual(results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value), [0, 2, 3, 4]);
  });
});
