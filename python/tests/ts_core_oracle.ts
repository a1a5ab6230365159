// Runs the TypeScript core on cases read from stdin so the Python port can be compared to it.
// Input: JSON [{fn, arg}]; output: JSON [{ok, value} | {code, message}].
import { parseReference } from '../../src/core/reference.js';
import { validateAlias, validateArtifactName, validateArtifactType } from '../../src/core/names.js';
import { checkPathCollisions, validateManifestPath } from '../../src/core/paths.js';
import { artifactDigest, validateManifest } from '../../src/core/node/manifest.js';
import { AmphoraError } from '../../src/core/errors.js';

const fns: Record<string, (a: never) => unknown> = {
  parseReference,
  validateAlias,
  validateArtifactName,
  validateArtifactType,
  validateManifestPath,
  checkPathCollisions,
  artifactDigest,
  validateManifest,
};

let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const cases = JSON.parse(input) as { fn: string; arg: never }[];
  const out = cases.map(({ fn, arg }) => {
    try {
      return { ok: true, value: fns[fn](arg) ?? null };
    } catch (e) {
      if (e instanceof AmphoraError) return { code: e.code, message: e.message };
      return { code: 'crash', message: String(e) };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
