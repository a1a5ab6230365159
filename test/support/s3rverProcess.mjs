// Runs s3rver in its own process (started by test/support/s3rver.ts with
// --openssl-legacy-provider, which s3rver's listings past one page need on Node 20).
// Usage: node --openssl-legacy-provider s3rverProcess.mjs DIR BUCKET
// Prints one JSON line {"port": N} once listening on a free loopback port; stops on SIGTERM.
import S3rver from 's3rver';

const [dir, bucket] = process.argv.slice(2);
const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true, configureBuckets: [{ name: bucket }] });
const addr = await server.run();
process.stdout.write(JSON.stringify({ port: addr.port }) + '\n');
process.on('SIGTERM', () => {
  server.close().finally(() => process.exit(0));
});
