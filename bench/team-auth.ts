/**
 * What team-mode access control costs: log 10,000 × 4 KiB files and resolve an alias, on the
 * embedded server (owner key: no checks) and on a team server (PGlite, --team) as a team editor
 * (every request: key hash lookup or cache, role check; negotiate/commit: blob read rights).
 *
 *   node esbuild.mjs && npx tsx bench/team-auth.ts [--quick]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { Artifact } from '../src/client/artifact.js';
import { Client } from '../src/client/client.js';
import { startServerProcess } from './server-process.js';

const quick = process.argv.includes('--quick');
const FILES = quick ? 2_000 : 10_000;
const DURATION_S = quick ? 3 : 10;
const BOOTSTRAP = 'bench-team-bootstrap-key-0123456789abcdefghij';

async function measure(label: string, team: boolean, base: string) {
  const server = await startServerProcess(path.join(base, `data-${label}`), team ? { args: ['--team'], env: { AMPHORA_BOOTSTRAP_KEY: BOOTSTRAP } } : {});
  try {
    let apiKey = server.apiKey;
    let entity: string | undefined;
    if (team) {
      // A plain team editor: the checks a site admin skips all apply.
      const admin = await Client.connect({ baseUrl: server.url, apiKey: BOOTSTRAP, cacheDir: path.join(base, `cache-admin`), env: {} });
      await admin.http.createTeam({ name: 'bench' });
      apiKey = (await admin.http.createUser({ name: 'editor' })).apiKey;
      await admin.http.addTeamMember('bench', { user: 'editor', role: 'editor' });
      await admin.close();
      entity = 'bench';
    }
    const client = await Client.connect({ baseUrl: server.url, apiKey, cacheDir: path.join(base, `cache-${label}`), env: {} });
    const dir = path.join(base, `files-${label}`);
    mkdirSync(dir);
    for (let i = 0; i < FILES; i++) writeFileSync(path.join(dir, `f${i}.bin`), Buffer.alloc(4096, `${label}-${i}-`));
    const a = new Artifact('many-small', 'dataset');
    await a.addDir(dir);
    const t0 = performance.now();
    await a.log({ client, project: 'bench', entity, aliases: ['production'] });
    const logS = (performance.now() - t0) / 1000;
    const ref = `${entity ?? client.entity}/bench/many-small:production`;
    await client.close();
    const r = await autocannon({ url: `${server.url}/api/v1/resolve?ref=${encodeURIComponent(ref)}`, connections: 32, duration: DURATION_S, headers: { authorization: `Bearer ${apiKey}` } });
    if (r.non2xx) throw new Error(`${label}: ${r.non2xx} non-2xx answers`);
    return { label, logS, filesPerS: FILES / logS, rps: r.requests.average, p99: r.latency.p99 };
  } finally {
    await server.stop();
  }
}

const base = mkdtempSync(path.join(tmpdir(), 'amphora-bench-team-'));
try {
  const rows = [await measure('embedded', false, base), await measure('team', true, base)];
  console.log(`\nlog ${FILES.toLocaleString()} × 4 KiB, then resolve (autocannon, 32 connections, ${DURATION_S} s)\n`);
  console.log('server          log        files/s   resolve req/s   p99');
  for (const r of rows) console.log(`${r.label.padEnd(14)}  ${r.logS.toFixed(2).padStart(6)} s  ${r.filesPerS.toFixed(0).padStart(7)}   ${r.rps.toFixed(0).padStart(13)}   ${r.p99} ms`);
} finally {
  rmSync(base, { recursive: true, force: true });
}
