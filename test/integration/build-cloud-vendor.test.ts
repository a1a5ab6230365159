/**
 * The cloud SDKs behind s3:// and gs:// references are built into dist/vendor/ and loaded lazily:
 * the CLI and extension bundles import them dynamically from there instead of inlining them, the
 * vendor bundles keep the SDKs' named exports, and the .vsix ships them.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

describe('build: lazily loaded cloud SDK bundles', function () {
  this.timeout(180_000);
  let out: string;
  before(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'amphora-build-'));
    execFileSync(process.execPath, ['esbuild.mjs', `--outdir=${out}`], { stdio: 'ignore' });
  });
  after(() => rm(out, { recursive: true, force: true }));

  it('the CLI and the extension import the SDKs from vendor/ instead of inlining them', async () => {
    // What the SDKs' main classes look like in a (non-minified) bundle; the vendor bundles have them.
    const gcsClass = /class _?Storage extends Service/;
    const s3Class = /S3Client = class extends/;
    assert.match(await readFile(path.join(out, 'vendor', 'gcs.mjs'), 'utf8'), gcsClass);
    assert.match(await readFile(path.join(out, 'vendor', 'aws-s3.mjs'), 'utf8'), s3Class);
    // The CLI's SDK bundle imports siblings through the code cache's hook (esbuild.mjs), the extension with import().
    for (const bundle of ['cli-sdk.cjs', 'extension.cjs']) {
      const text = await readFile(path.join(out, bundle), 'utf8');
      assert.match(text, /(?:import|__amphoraImport)\("\.\/vendor\/aws-s3\.mjs"\)/, `${bundle} loads the S3 SDK lazily`);
      assert.match(text, /(?:import|__amphoraImport)\("\.\/vendor\/gcs\.mjs"\)/, `${bundle} loads the GCS SDK lazily`);
      assert.doesNotMatch(text, gcsClass, `${bundle} does not inline @google-cloud/storage`);
      assert.doesNotMatch(text, s3Class, `${bundle} does not inline @aws-sdk/client-s3`);
    }
  });

  it('the vendor bundles load on their own and keep the named exports the reference modules use', async () => {
    const s3 = await import(pathToFileURL(path.join(out, 'vendor', 'aws-s3.mjs')).href);
    for (const name of ['S3Client', 'HeadObjectCommand', 'GetObjectCommand', 'ListObjectsV2Command', 'ListObjectVersionsCommand', 'GetBucketVersioningCommand']) {
      assert.equal(typeof s3[name], 'function', name);
    }
    const gcs = await import(pathToFileURL(path.join(out, 'vendor', 'gcs.mjs')).href);
    assert.equal(typeof gcs.Storage, 'function');
    assert.equal(typeof gcs.CRC32C, 'function');
  });

  it('the .vsix keeps the vendor bundles', async () => {
    const ignore = await readFile('.vscodeignore', 'utf8');
    assert.match(ignore, /^!dist\/vendor\/\*\.mjs$/m);
    for (const f of ['cli.mjs', 'cli-main.cjs', 'cli-sdk.cjs', 'serve.mjs']) assert.match(ignore, new RegExp(`^!dist/${f.replace('.', '\\.')}$`, 'm'), `the .vsix ships dist/${f}`);
  });
});
