/**
 * Writes the OpenAPI document the tracking server serves (`GET /api/v1/openapi.json`) to a file:
 * `npx tsx scripts/dump-openapi.ts OUT.json`. It starts the embedded server from source on a
 * throwaway data dir and a free loopback port, so the document is exactly what clients fetch.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../src/server/index.js';

async function main(out: string | undefined): Promise<void> {
  if (!out) throw new Error('usage: npx tsx scripts/dump-openapi.ts OUT.json (where to write the document)');
  const dataDir = mkdtempSync(join(tmpdir(), 'amphora-openapi-'));
  try {
    const server = await startServer({ dataDir, port: 0, quiet: true });
    try {
      const res = await fetch(`${server.url}/api/v1/openapi.json`, { headers: { authorization: `Bearer ${server.apiKey}` } });
      if (!res.ok) throw new Error(`GET /api/v1/openapi.json answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
      writeFileSync(out, JSON.stringify(await res.json(), null, 2) + '\n');
    } finally {
      await server.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main(process.argv[2]).catch((e: unknown) => {
  console.error(`dump-openapi: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
