/**
 * A real S3-compatible server for tests: s3rver on a free loopback port in a temp dir, with its
 * buckets, in a child process (Node 20 needs --openssl-legacy-provider for its paged listings).
 * `env` is what the AWS SDK needs to reach it the standard way (endpoint, dummy keys, region,
 * and request/response checksums only when required, since s3rver would store a streamed body
 * with its aws-chunked framing).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface S3rverHandle {
  endpoint: string;
  bucket: string;
  dir: string;
  env: Record<string, string>;
  /** What s3rver wrote to stderr: the causes of its 500 answers, among others. */
  errors(): string;
  /** Sets `env` on process.env (returns a function restoring the previous values). */
  applyEnv(): () => void;
  stop(): Promise<void>;
  /** For process 'exit' handlers: kills the child and removes its folder synchronously. */
  killSync(): void;
}

const SCRIPT = join(fileURLToPath(new URL('.', import.meta.url)), 's3rverProcess.mjs');

/** `buckets`: the first is `bucket` (the one a test server stores blobs in); all are created. */
export async function startS3rver(buckets: string | string[] = 'amphora-test'): Promise<S3rverHandle> {
  const names = typeof buckets === 'string' ? [buckets] : buckets;
  const bucket = names[0] ?? '';
  const dir = mkdtempSync(join(tmpdir(), 'amphora-s3-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', SCRIPT, dir, ...names], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (l) => {
      lines.close();
      resolve((JSON.parse(l) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code} before listening: ${stderr.slice(-2000)}`)));
  });
  // A shared s3rver must not keep the test process alive: it is killed on 'exit' (killSync) or by stop().
  for (const s of [child, child.stdout, child.stderr] as { unref?: () => void }[]) s.unref?.();
  const endpoint = `http://127.0.0.1:${port}`;
  const env = {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
  };
  return {
    endpoint,
    bucket,
    dir,
    env,
    errors: () => stderr,
    applyEnv() {
      const saved: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(env)) {
        saved[k] = process.env[k];
        process.env[k] = v;
      }
      return () => {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      };
    },
    stop: () => stopChild(child).finally(() => rmSync(dir, { recursive: true, force: true })),
    killSync() {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
