import assert from 'node:assert/strict';
import { diffManifests, isTextDiffable, MAX_TEXT_DIFF_BYTES, renderManifestDiff } from '../../src/core/manifestDiff.js';

const d = (c: string) => c.repeat(64);

describe('manifest diff', () => {
  const before = {
    'train.csv': { digest: d('a'), size: 1000 },
    'labels.json': { digest: d('b'), size: 200 },
    'old/notes.txt': { digest: d('c'), size: 30 },
  };
  const after = {
    'train.csv': { digest: d('a'), size: 1000 },
    'labels.json': { digest: d('d'), size: 260 },
    'images/0001.png': { digest: d('e'), size: 4096 },
  };

  it('lists added, removed and changed files with sizes, sorted by path', () => {
    const diff = diffManifests(before, after);
    assert.deepEqual(diff.changes.map((c) => [c.status, c.path, c.sizeBefore, c.sizeAfter]), [
      ['added', 'images/0001.png', undefined, 4096],
      ['changed', 'labels.json', 200, 260],
      ['removed', 'old/notes.txt', 30, undefined],
    ]);
    assert.deepEqual([diff.added, diff.removed, diff.changed, diff.unchanged], [1, 1, 1, 1]);
    assert.deepEqual([diff.bytesBefore, diff.bytesAfter], [1230, 5356]);
  });

  it('finds nothing between equal manifests, and everything added from an empty one', () => {
    const same = diffManifests(before, before);
    assert.equal(same.changes.length, 0);
    assert.equal(same.unchanged, 3);
    assert.match(renderManifestDiff(same, 'a:v0', 'a:v0'), /same files/);
    assert.equal(diffManifests({}, after).added, 3);
  });

  it('renders a readable report', () => {
    const text = renderManifestDiff(diffManifests(before, after), 'mnist-raw:v0', 'mnist-raw:v1');
    assert.match(text, /^Compare mnist-raw:v0 → mnist-raw:v1\n1 added, 1 removed, 1 changed, 1 unchanged · 1.2 KiB → 5.2 KiB/);
    assert.match(text, /\+ added {3}images\/0001\.png {2}4\.0 KiB/);
    assert.match(text, /~ changed labels\.json {2}200 B → 260 B \(\+60 B\)/);
    assert.match(text, /- removed old\/notes\.txt {2}30 B/);
  });

  it('offers the text diff editor for text files only, and not for huge ones', () => {
    assert.equal(isTextDiffable('labels.json', 10), true);
    assert.equal(isTextDiffable('data/README', 10), true);
    assert.equal(isTextDiffable('images/0001.png', 10), false);
    assert.equal(isTextDiffable('model.h5', 10), false);
    assert.equal(isTextDiffable('big.csv', MAX_TEXT_DIFF_BYTES + 1), false);
  });
});
