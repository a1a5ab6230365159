// Runs s3rver on a free loopback port in its own process (started by test/support/s3rver.ts and
// python/tests/test_s3_references.py) and prints one JSON line {"port", "endpoint"} once it listens.
// Own process because s3rver's continuation tokens use DES, which Node 20 only offers with
// --openssl-legacy-provider: listings longer than one page need that flag, and a test runner
// should not run with it. Usage: node --openssl-legacy-provider s3rverProcess.mjs DIR [BUCKET…]
import { promises as fs } from 'node:fs';
import S3rver from 's3rver';

const [directory, ...buckets] = process.argv.slice(2);
if (!directory) {
  console.error('usage: s3rverProcess.mjs DIR [BUCKET…]');
  process.exit(2);
}
const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: buckets.map((name) => ({ name })) });
// s3rver deletes an object's files and then removes its folder when empty, racing a concurrent PUT
// into that folder between its mkdir and its open: the PUT answers 500 (EEXIST/ENOENT) or, when
// the open fails on an error-less write stream, the whole process dies. S3 has no folders, so
// deletes here leave empty ones in place (listings never show them).
const { store } = server;
store.deleteObject = async (bucket, key) => {
  const files = ['object', 'object.md5', 'metadata.json'].map((r) => store.getResourcePath(bucket, key, r));
  await Promise.all(files.map((f) => fs.unlink(f).catch((e) => { if (e.code !== 'ENOENT') throw e; })));
};
// Silent drops the reason behind a 500 InternalError; keep that one on stderr (S3rverHandle.errors()).
server.on('error', (err, ctx) => process.stderr.write(`s3rver: ${ctx?.method ?? ''} ${ctx?.path ?? ''}: ${err?.stack ?? err}\n`));
const { address, port } = await server.run();
process.stdout.write(JSON.stringify({ port, endpoint: `http://${address}:${port}` }) + '\n');
const stop = () => server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
