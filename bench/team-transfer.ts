/**
 * Team-mode transfer benchmark: the same logs and downloads against the embedded server (local
 * blob folder) and against blobs in an S3 bucket (s3rver on loopback), plus the alternative the
 * batch path was chosen over (one presigned PUT + one verification per small file).
 *
 *   node esbuild.mjs && npx tsx bench/team-transfer.ts [--quick] [--only=small|large] [--no-alternative]
 *
 * The floor row PUTs the same small files straight to s3rver with the SDK (64 at a time): what
 * the store itself costs per object, whatever sends them.
 *
 * Servers run as their own processes (dist/server.mjs); the client is the SDK in this process.
 */
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Api } from '../src/client/api.js';
import { Artifact } from '../src/client/artifact.js';
import { Client } from '../src/client/client.js';
import { startS3rver } from '../test/support/s3rver.js';
import { startServerProcess } from './server-process.js';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const doLarge = only !== 'small';
const doSmall = only !== 'large';
const alternative = doSmall && !process.argv.includes('--no-alternative');
const LARGE_FILES = 8;
const LARGE_SIZE = quick ? 8 << 20 : 128 << 20;
const SMALL_FILES = quick ? 1_000 : 10_000;
const SMALL_SIZE = 4096;

const base = mkdtempSync(path.join(process.env.BENCH_DIR ?? tmpdir(), 'amphora-team-bench-'));
const large = path.join(base, 'large');
const small = path.join(base, 'small');

function log(msg: string) {
  process.stderr.write(`[bench] ${msg}\n`);
}

function generate() {
  mkdirSync(large, { recursive: true });
  const chunk = Buffer.alloc(8 << 20);
  for (let i = 0; i < LARGE_FILES; i++) {
    const fd = openSync(path.join(large, `part-${i}.bin`), 'w');
    for (let off = 0; off < LARGE_SIZE; off += chunk.length) writeSync(fd, randomFillSync(chunk), 0, Math.min(chunk.length, LARGE_SIZE - off));
    closeSync(fd);
  }
  for (let i = 0; i < SMALL_FILES; i++) {
    const dir = path.join(small, String(i % 100).padStart(2, '0'));
    if (i < 100) mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `f${i}.bin`), randomFillSync(Buffer.alloc(SMALL_SIZE)));
  }
}

async function time<T>(fn: () => Promise<T>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

interface Figures {
  logLarge: number;
  logSmall: number;
  dlLarge: number;
  dlSmall: number;
  /** Wall time from the first confirm request (server-side verification) to the last answer. */
  confirmWindow?: number;
}

async function measure(label: string, args: string[], env: Record<string, string>, which: { large: boolean; small: boolean } = { large: true, small: true }): Promise<Figures> {
  const dataDir = path.join(base, `data-${label}`);
  const server = await startServerProcess(dataDir, { args, env });
  log(`${label}: server ${server.url}`);
  const producer = await Client.connect({ baseUrl: server.url, apiKey: server.apiKey, cacheDir: path.join(base, `cache-p-${label}`), env: {} });
  let first = Infinity;
  let last = 0;
  const confirm = producer.http.confirmBlobs.bind(producer.http);
  producer.http.confirmBlobs = async (blobs) => {
    first = Math.min(first, performance.now());
    try {
      return await confirm(blobs);
    } finally {
      last = Math.max(last, performance.now());
    }
  };
  const logDir = async (dir: string, name: string) => {
    const a = new Artifact(name, 'dataset');
    await a.addDir(dir);
    await a.log({ client: producer, project: 'bench' });
  };
  const f: Figures = { logLarge: NaN, logSmall: NaN, dlLarge: NaN, dlSmall: NaN };
  try {
    if (which.large) {
      f.logLarge = await time(() => logDir(large, 'large'));
      if (last) f.confirmWindow = (last - first) / 1000;
    }
    if (which.small) f.logSmall = await time(() => logDir(small, 'small'));
    const consumer = await Client.connect({ baseUrl: server.url, apiKey: server.apiKey, cacheDir: path.join(base, `cache-c-${label}`), env: {} });
    const api = new Api({ client: consumer });
    const dl = async (ref: string, root: string) => (await api.artifact(ref)).download({ root: path.join(base, `${label}-${root}`) });
    if (which.large) f.dlLarge = await time(() => dl('bench/large:latest', 'dl-large'));
    if (which.small) f.dlSmall = await time(() => dl('bench/small:latest', 'dl-small'));
    await consumer.close();
  } finally {
    await producer.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  log(`${label}: ${JSON.stringify(f)}`);
  return f;
}

/** Seconds to PUT every small file straight to the bucket with the SDK, 64 in flight. */
async function s3Floor(env: Record<string, string>, bucket: string): Promise<number> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  const client = new S3Client({ forcePathStyle: true });
  Object.assign(process.env, saved);
  const files = readdirSync(small).flatMap((d) => readdirSync(path.join(small, d)).map((f) => path.join(small, d, f)));
  let next = 0;
  const t = await time(async () => {
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < files.length) {
          const f = files[next++];
          await client.send(new PutObjectCommand({ Bucket: bucket, Key: `floor/${path.basename(f)}`, Body: readFileSync(f) }));
        }
      }),
    );
  });
  client.destroy();
  log(`floor: ${t.toFixed(2)} s`);
  return t;
}

async function main() {
  const largeLabel = `${LARGE_FILES} × ${LARGE_SIZE >> 20} MiB`;
  const smallLabel = `${SMALL_FILES.toLocaleString('en')} × 4 KiB`;
  log(`generating ${largeLabel} and ${smallLabel} in ${base}`);
  generate();
  const s3 = await startS3rver('amphora-bench');
  try {
    const which = { large: doLarge, small: doSmall };
    const embedded = await measure('embedded', [], {}, which);
    const team = await measure('s3', ['--blobs', `s3://${s3.bucket}/team`], s3.env, which);
    const floorSmall = doSmall ? await s3Floor(s3.env, s3.bucket) : NaN;
    const alt = alternative ? await measure('s3-per-file', ['--blobs', `s3://${s3.bucket}/alt`], { ...s3.env, AMPHORA_S3_DIRECT_MIN: '0' }, { large: false, small: true }) : undefined;
    const s = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)} s` : '—');
    const rate = (x: number) => (Number.isFinite(x) ? `${Math.round(SMALL_FILES / x).toLocaleString('en')} files/s` : '');
    // Rows of a size left out (--only) are not printed.
    const lines = [
      `| scenario | embedded (local folder) | team: S3 (s3rver) | ratio | target |`,
      `|---|---|---|---|---|`,
      ...(doLarge ? [`| log ${largeLabel} | ${s(embedded.logLarge)} | ${s(team.logLarge)} (server-side verify+copy window ${s(team.confirmWindow ?? NaN)}) | ${(team.logLarge / embedded.logLarge).toFixed(2)}× | ≤ 2× ${team.logLarge <= 2 * embedded.logLarge ? 'met' : 'NOT met'} |`] : []),
      ...(doSmall ? [`| log ${smallLabel} | ${s(embedded.logSmall)} (${rate(embedded.logSmall)}) | ${s(team.logSmall)} (${rate(team.logSmall)}) | ${(team.logSmall / embedded.logSmall).toFixed(2)}× | ≥ 1,000 files/s ${SMALL_FILES / team.logSmall >= 1000 ? 'met' : 'NOT met'} |`] : []),
      ...(doLarge ? [`| download ${largeLabel}, cold cache | ${s(embedded.dlLarge)} | ${s(team.dlLarge)} | ${(team.dlLarge / embedded.dlLarge).toFixed(2)}× | |`] : []),
      ...(doSmall ? [`| download ${smallLabel}, cold cache | ${s(embedded.dlSmall)} | ${s(team.dlSmall)} | ${(team.dlSmall / embedded.dlSmall).toFixed(2)}× | |`] : []),
    ];
    if (doSmall) lines.push(`| floor: SDK PutObject of the ${smallLabel} straight to s3rver, 64 at a time | | ${s(floorSmall)} (${rate(floorSmall)}) | | |`);
    if (alt) lines.push(`| log ${smallLabel}, one presigned PUT + confirm per file (not chosen) | | ${s(alt.logSmall)} (${rate(alt.logSmall)}) | | |`);
    process.stdout.write(lines.join('\n') + '\n');
  } catch (e) {
    const why = s3.errors().trim();
    if (why) log(`s3rver's errors:\n${why.slice(-4000)}`);
    throw e;
  } finally {
    await s3.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  rmSync(base, { recursive: true, force: true });
  process.exit(1);
});
