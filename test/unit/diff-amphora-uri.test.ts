import assert from 'node:assert/strict';
import { formatAmphoraPath, isDirectory, listDirectory, parseAmphoraPath } from '../../src/extension/fs/amphoraUri.js';

describe('amphora: file paths (the read-only file system and the diff editor sides)', () => {
  it('round-trips entity/project/name:version/path', () => {
    const l = { entity: 'demo', project: 'artifacts-example', name: 'mnist-raw', selector: 'v3', path: 'images/0001.png' };
    assert.equal(formatAmphoraPath(l), '/demo/artifacts-example/mnist-raw:v3/images/0001.png');
    assert.deepEqual(parseAmphoraPath(formatAmphoraPath(l)), l);
    assert.deepEqual(parseAmphoraPath('/demo/p/model:latest'), { entity: 'demo', project: 'p', name: 'model', selector: 'latest', path: '' });
  });

  it('rejects paths that are not a version location, saying what is expected', () => {
    assert.throws(() => parseAmphoraPath('/demo/p'), /needs entity, project and name:version.*amphora:\/entity\/project\/name:v3/);
    assert.throws(() => parseAmphoraPath('/demo/p/model/x'), /"model" must be name:version/);
    assert.throws(() => parseAmphoraPath('/demo/p/model:v1/../secret'), /"\." and "\.\." are not allowed/);
    assert.throws(() => parseAmphoraPath('/de mo/p/model:v1'), /"de mo" is not a valid name/);
  });

  it('lists a manifest folder: folders first, each child once', () => {
    const paths = ['b.txt', 'a/x.csv', 'a/y/z.json', 'c/d.bin'];
    assert.deepEqual(listDirectory(paths, ''), [
      { name: 'a', kind: 'folder' }, { name: 'c', kind: 'folder' }, { name: 'b.txt', kind: 'file' },
    ]);
    assert.deepEqual(listDirectory(paths, 'a'), [{ name: 'y', kind: 'folder' }, { name: 'x.csv', kind: 'file' }]);
    assert.equal(isDirectory(paths, 'a/y'), true);
    assert.equal(isDirectory(paths, 'b.txt'), false);
    assert.equal(isDirectory(paths, 'nope'), false);
  });
});
