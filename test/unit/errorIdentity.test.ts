import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { AmphoraError, CommError } from '../../src/core/errors.js';

/**
 * The CLI runs as two bundles (cli-main.cjs, cli-sdk.cjs), each with its own copy of core: an
 * AmphoraError thrown by the SDK's copy must still be `instanceof AmphoraError` where the CLI
 * decides exit codes and prints `{"error": {code, message}}`.
 */
describe('AmphoraError across module copies', () => {
  it('instanceof holds for an error made by another copy of the module, and not for look-alikes', async () => {
    const copy = (await import(`${pathToFileURL(path.resolve('src/core/errors.ts')).href}?copy=1`)) as typeof import('../../src/core/errors.js');
    assert.notEqual(copy.AmphoraError, AmphoraError, 'a second module instance');
    const foreign = new copy.AmphoraError('not_found', 'no such artifact');
    assert.ok(foreign instanceof AmphoraError);
    assert.ok(new AmphoraError('conflict', 'x') instanceof copy.AmphoraError);
    assert.ok(new copy.CommError('server_unreachable', 'down') instanceof AmphoraError);
    assert.ok(!(Object.assign(new Error('x'), { code: 'not_found', name: 'AmphoraError' }) instanceof AmphoraError));
    for (const v of [null, 's', 1, {}] as unknown[]) assert.ok(!((v as object) instanceof AmphoraError));
  });

  it('subclasses keep the ordinary prototype check', () => {
    assert.ok(new CommError('internal', 'x') instanceof CommError);
    assert.ok(!(new AmphoraError('internal', 'x') instanceof CommError));
  });
});
