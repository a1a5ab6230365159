/**
 * The s3rver of test/support/s3rver.ts with the AWS environment a user would set (and nothing
 * else the SDK could find), plus an admin client for arranging objects: the cloud-reference tests.
 */
import path from 'node:path';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startS3rver } from './s3rver.js';

export interface S3rverRefs {
  endpoint: string;
  /** The AWS environment a user would set for this store (endpoint, key, region). */
  env: Record<string, string>;
  /** An admin client for arranging objects. */
  s3: S3Client;
  put(bucket: string, key: string, body: string | Buffer): Promise<void>;
  del(bucket: string, key: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * s3rver accepts the access key id S3RVER (it checks only the id). The SDK's default request
 * checksums would store streamed bodies with their chunk framing on s3rver: WHEN_REQUIRED turns
 * them off, as the design notes say. No config files and no instance metadata service, so a
 * test controls every credential the SDK can find.
 */
export function s3rverEnv(endpoint: string, home: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: path.join(home, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'no-aws-credentials'),
  };
}

export async function startS3rverRefs(buckets: string[]): Promise<S3rverRefs> {
  const server = await startS3rver(buckets);
  const { endpoint } = server;
  const env = s3rverEnv(endpoint, server.dir);
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // Node 20 is what we test on
  const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  return {
    endpoint,
    env,
    s3,
    async put(bucket, key, body) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    async del(bucket, key) {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
    async close() {
      s3.destroy();
      await server.stop();
    },
  };
}

/** Runs `fn` with `vars` set in process.env (undefined deletes), restoring it afterwards. */
export async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = new Map(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
