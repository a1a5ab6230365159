import assert from 'node:assert/strict';
import type { ArtifactCollection, ArtifactVersion } from '../../src/core/api.js';
import { completionTarget, referenceCompletions } from '../../src/extension/language/completionLogic.js';
import { diagnoseReference, type RefDiagnostic } from '../../src/extension/language/diagnosticsLogic.js';
import { buildProjectIndex, editDistance, nearest } from '../../src/extension/logic/collectionIndex.js';
import { scanReferences } from '../../src/extension/logic/references.js';

const T = '2026-11-23T09:00:00.000Z';
function collection(name: string, type: string, versions: number, aliases: Array<[string, string]>): ArtifactCollection {
  const latest: ArtifactVersion = {
    id: `${name}-${versions - 1}`, entity: 'demo', project: 'artifacts-example', name, type, version: `v${versions - 1}`, index: versions - 1,
    digest: 'a'.repeat(64), size: 1, fileCount: 1, aliases: ['latest'], description: null, metadata: {}, state: 'committed', createdAt: T, updatedAt: T, producerRun: null,
  };
  return {
    entity: 'demo', project: 'artifacts-example', name, type, description: null, versionCount: versions, latest,
    aliases: [['latest', `v${versions - 1}`] as [string, string], ...aliases].map(([alias, version]) => ({ alias, version })), createdAt: T, updatedAt: T,
  };
}
const index = buildProjectIndex('demo', 'artifacts-example', [
  collection('mnist-raw', 'dataset', 4, []),
  collection('mnist-preprocess', 'dataset', 2, []),
  collection('trained-model', 'model', 3, [['best', 'v1']]),
]);

/** Applies a diagnostic's quick fix to the source. */
const applyFix = (src: string, d: RefDiagnostic) => src.slice(0, d.fix!.start) + d.fix!.newText + src.slice(d.fix!.end);
const diagnose = (src: string) => scanReferences(src).flatMap((r) => diagnoseReference(r, index));

describe('reference completion', () => {
  it('offers artifact names before the colon, replacing the whole name segment', () => {
    const text = 'mnist-r';
    const items = referenceCompletions(text, text.length, index);
    assert.deepEqual(items.map((i) => i.label).sort(), ['mnist-preprocess', 'mnist-raw', 'trained-model']);
    const raw = items.find((i) => i.label === 'mnist-raw')!;
    assert.equal(raw.kind, 'artifact');
    assert.match(raw.detail, /dataset · 4 versions · latest v3/);
    assert.deepEqual([raw.replaceStart, raw.replaceEnd], [0, 7]);
    // Qualified: only the segment after the last "/" is replaced; the selector is kept.
    const q = completionTarget('demo/artifacts-example/mni:latest', 25);
    assert.deepEqual(q, { part: 'name', entity: 'demo', project: 'artifacts-example', start: 23, end: 26 });
  });

  it('offers aliases (latest first) then versions newest first after the colon', () => {
    const text = 'trained-model:';
    const items = referenceCompletions(text, text.length, index);
    assert.deepEqual(items.map((i) => `${i.kind}:${i.label}`), ['alias:latest', 'alias:best', 'version:v2', 'version:v1', 'version:v0']);
    assert.equal(items[1].detail, 'alias → v1 (moves)');
    assert.match(items[3].detail, /pinned.*best/);
    assert.ok(items.every((i) => i.replaceStart === 14 && i.replaceEnd === 14));
    assert.deepEqual(referenceCompletions('nope:', 5, index), [], 'nothing for an unknown artifact');
    assert.deepEqual(referenceCompletions('mnist', 5, undefined), [], 'nothing without a server');
  });
});

describe('reference diagnostics', () => {
  it('warns about an unknown artifact and fixes it to the nearest name', () => {
    const src = `run.use_artifact("mnist-rw:latest")\n`;
    const [d] = diagnose(src);
    assert.equal(d.severity, 'warning');
    assert.equal(d.code, 'unknown-artifact');
    assert.equal(d.message, 'unknown artifact "mnist-rw" in demo/artifacts-example — did you mean "mnist-raw"?');
    assert.equal(src.slice(d.start, d.end), 'mnist-rw');
    assert.equal(applyFix(src, d), `run.use_artifact("mnist-raw:latest")\n`);
    const [far] = diagnose(`use_artifact("completely-different")`);
    assert.equal(far.fix, undefined, 'no fix when nothing is close');
    assert.match(far.message, /Log it first/);
  });

  it('warns about an unknown alias or version with a fix to the nearest one', () => {
    const src = `api.artifact('trained-model:bset')`;
    const [d] = diagnose(src);
    assert.equal(d.code, 'unknown-alias');
    assert.equal(applyFix(src, d), `api.artifact('trained-model:best')`);
    const v = `useArtifact("mnist-raw:v9")`;
    const [dv] = diagnose(v);
    assert.equal(dv.code, 'unknown-version');
    assert.equal(dv.message, 'mnist-raw has no version v9 (latest is v3).');
    assert.equal(applyFix(v, dv), `useArtifact("mnist-raw:v3")`);
  });

  it('hints that a moving alias can be pinned to the version it resolves to now', () => {
    const src = `raw = run.use_artifact("mnist-raw:latest")`;
    const [d] = diagnose(src);
    assert.equal(d.severity, 'information');
    assert.equal(d.code, 'moving-alias');
    assert.equal(d.fix!.title, 'Pin to v3');
    assert.equal(applyFix(src, d), `raw = run.use_artifact("mnist-raw:v3")`);
    // No selector means latest: the fix appends one.
    const bare = `Api().artifact("demo/artifacts-example/trained-model")`;
    const [db] = diagnose(bare);
    assert.equal(applyFix(bare, db), `Api().artifact("demo/artifacts-example/trained-model:v2")`);
    assert.equal(diagnose(`use_artifact("trained-model:best")`)[0].fix!.newText, 'v1');
  });

  it('says nothing about pinned, valid references or without a server; flags invalid text', () => {
    assert.deepEqual(diagnose(`use_artifact("mnist-raw:v2")`), []);
    assert.deepEqual(scanReferences(`use_artifact("nope:latest")`).flatMap((r) => diagnoseReference(r, undefined)), []);
    const [bad] = diagnose(`use_artifact("a:b:c")`);
    assert.equal(bad.code, 'invalid-reference');
  });
});

describe('nearest name', () => {
  it('uses edit distance, case-insensitively, within a third of the length', () => {
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(nearest('Mnist-Raw', ['mnist-raw', 'mnist-preprocess']), 'mnist-raw');
    assert.equal(nearest('lastest', ['latest', 'best']), 'latest');
    assert.equal(nearest('xyz', ['mnist-raw']), undefined);
  });
});
