// Runs s3rver on a free loopback port in its own process (started by test/support/s3rver.ts and
// python/tests/test_s3_references.py) and prints one JSON line {"port", "endpoint"} once it listens.
// Own process because s3rver's continuation tokens use DES, which Node 20 only offers with
// --openssl-legacy-provider: listings longer than one page need that flag, and a test runner
// should not run with it. Usage: node --openssl-legacy-provider s3rverProcess.mjs DIR [BUCKET…]
import S3rver from 's3rver';

const [directory, ...buckets] = process.argv.slice(2);
if (!directory) {
  console.error('usage: s3rverProcess.mjs DIR [BUCKET…]');
  process.exit(2);
}
const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: buckets.map((name) => ({ name })) });
// Silent drops the reason behind a 500 InternalError; keep that one on stderr (S3rverHandle.errors()).
server.on('error', (err, ctx) => process.stderr.write(`s3rver: ${ctx?.method ?? ''} ${ctx?.path ?? ''}: ${err?.stack ?? err}\n`));
const { address, port } = await server.run();
process.stdout.write(JSON.stringify({ port, endpoint: `http://${address}:${port}` }) + '\n');
const stop = () => server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
