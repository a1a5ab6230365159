import assert from 'node:assert/strict';
import type { ArtifactCollection, ArtifactVersion } from '../../src/core/api.js';
import { AmphoraError } from '../../src/core/errors.js';
import { buildProjectIndex, CollectionIndex } from '../../src/extension/logic/collectionIndex.js';
import { lineageFocus } from '../../src/extension/logic/lineageFocus.js';
import { describeMissing } from '../../src/extension/logic/missingReference.js';
import { ReferenceResolver, type ResolverBackend } from '../../src/extension/logic/resolver.js';

const T = '2026-11-23T09:00:00.000Z';
function version(name: string, n: number, aliases: string[]): ArtifactVersion {
  return {
    id: `${name}-${n}`, entity: 'me', project: 'mnist', name, type: 'dataset', version: `v${n}`, index: n,
    digest: 'a'.repeat(64), size: 1, fileCount: 1, aliases, description: null, metadata: {}, state: 'committed', createdAt: T, updatedAt: T, producerRun: null,
  };
}
function collection(name: string, versions: number, aliases: Array<[string, string]>): ArtifactCollection {
  return {
    entity: 'me', project: 'mnist', name, type: 'dataset', description: null, versionCount: versions,
    latest: versions ? version(name, versions - 1, ['latest']) : null,
    aliases: [...(versions ? [['latest', `v${versions - 1}`] as [string, string]] : []), ...aliases].map(([alias, v]) => ({ alias, version: v })),
    createdAt: T, updatedAt: T,
  };
}
const collections = [collection('mnist-raw', 4, [['production', 'v2']]), collection('convnet', 0, [])];
const index = buildProjectIndex('me', 'mnist', collections);

describe('extension logic: what a reference that does not resolve is missing', () => {
  it('an alias of an existing artifact: names the aliases it has', () => {
    assert.deepEqual(describeMissing({ name: 'mnist-raw', selector: 'best' }, index), {
      part: 'alias', message: 'mnist-raw has no alias "best" (aliases: latest, production)', guess: undefined,
    });
    assert.equal(describeMissing({ name: 'mnist-raw', selector: 'prodution' }, index)?.message, 'mnist-raw has no alias "prodution" (aliases: latest, production) — did you mean "production"?');
    assert.equal(describeMissing({ name: 'convnet', selector: 'latest' }, index)?.message, 'convnet has no alias "latest" (it has no versions yet)');
  });

  it('a version past the newest: says which is the latest', () => {
    assert.deepEqual(describeMissing({ name: 'mnist-raw', selector: 'v9' }, index), { part: 'version', message: 'mnist-raw has no version v9 (latest is v3)' });
    assert.equal(describeMissing({ name: 'mnist-raw', selector: 'v2' }, index), undefined, 'v2 exists as far as the list knows');
    assert.equal(describeMissing({ name: 'mnist-raw', selector: 'v1' }, index, true)?.message, 'mnist-raw has no version v1 (latest is v3)', 'deleted, by the server\'s word');
    assert.equal(describeMissing({ name: 'convnet', selector: 'v0' }, index)?.message, 'convnet has no version v0 (it has no versions yet)');
  });

  it('a missing artifact stays "unknown artifact", with the nearest name when one is close', () => {
    assert.deepEqual(describeMissing({ name: 'mnist-rw', selector: 'latest' }, index), { part: 'artifact', message: 'unknown artifact "mnist-rw" in me/mnist — did you mean "mnist-raw"?', guess: 'mnist-raw' });
    assert.equal(describeMissing({ name: 'something-else', selector: 'latest' }, index)?.message, 'unknown artifact "something-else" in me/mnist');
    assert.equal(describeMissing({ name: 'mnist-raw', selector: 'production' }, index), undefined);
  });
});

describe('extension logic: the resolver says precisely what is missing', () => {
  function resolver(withCollections: boolean, projectExists = true) {
    const index = new CollectionIndex(async () => {
      if (!projectExists) throw new AmphoraError('not_found', 'no project');
      return collections;
    });
    const b: ResolverBackend = {
      resolve: async (ref) => {
        if (ref === 'me/mnist/mnist-raw:latest') return version('mnist-raw', 3, ['latest']);
        throw new AmphoraError('not_found', `no ${ref}`);
      },
      projects: async () => [{ entity: 'me', name: 'mnist' }],
      entity: async () => 'me',
      ...(withCollections
        ? { projectIndex: (e: string, p: string) => index.get(e, p) }
        : {}),
    };
    return new ReferenceResolver(() => b, () => undefined);
  }

  it('alias, version and artifact each get their own line', async () => {
    const r = resolver(true);
    const alias = await r.resolveInSource('mnist-raw:best', '');
    assert.ok(alias.kind === 'unknown');
    assert.equal(alias.missing, 'alias');
    assert.equal(alias.message, 'mnist-raw has no alias "best" (aliases: latest, production)');
    const v = await r.resolveInSource('mnist-raw:v9', '');
    assert.ok(v.kind === 'unknown' && v.missing === 'version' && v.message === 'mnist-raw has no version v9 (latest is v3)');
    const name = await r.resolveInSource('mnist-rw:latest', '');
    assert.ok(name.kind === 'unknown' && name.missing === 'artifact');
    assert.equal(name.message, 'unknown artifact "mnist-rw" in me/mnist — did you mean "mnist-raw"?');
  });

  it('a project that does not exist means an unknown artifact; without a list, a plain "not found"', async () => {
    const gone = await resolver(true, false).resolveInSource('other/x:latest', '');
    assert.ok(gone.kind === 'unknown' && gone.message === 'unknown artifact "x" in me/other');
    const plain = await resolver(false).resolveInSource('mnist-raw:best', '');
    assert.ok(plain.kind === 'unknown' && plain.missing === undefined && plain.message === 'me/mnist/mnist-raw:best not found');
  });
});

describe('extension logic: Show Lineage from a reference', () => {
  it('focuses the version\'s graph node with a small JSON-safe argument', () => {
    const focus = lineageFocus(version('mnist-raw', 3, ['latest']));
    assert.deepEqual(focus, { entity: 'me', project: 'mnist', nodeId: 'artifact:mnist-raw-3' });
    assert.deepEqual(JSON.parse(JSON.stringify(focus)), focus);
  });
});
