/** Where the time of logging large files goes: hashing, uploads, flush, commit (server as its own process). */
import { randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readFileSync, writeSync, closeSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Artifact } from '../src/client/artifact.js';
import { Client } from '../src/client/client.js';
import { startServerProcess } from './server-process.js';

const base = mkdtempSync(path.join(tmpdir(), 'amphora-logprobe-'));
const dir = path.join(base, 'large');
mkdirSync(dir);
const chunk = Buffer.alloc(8 << 20);
randomFillSync(chunk);
const files = Number(process.env.FILES ?? 8);
for (let f = 0; f < files; f++) {
  const fd = openSync(path.join(dir, `shard-${f}.bin`), 'w');
  for (let c = 0; c < 16; c++) { chunk.writeUInt32LE(f, 0); chunk.writeUInt32LE(c, 4); writeSync(fd, chunk); }
  closeSync(fd);
}
spawnSync('sync');
const server = await startServerProcess(path.join(base, 'data'));
const client = await Client.connect({ baseUrl: server.url, apiKey: server.apiKey, cacheDir: path.join(base, 'cache'), env: {} });
const t0 = performance.now();
const mark = (what: string) => console.log(`${((performance.now() - t0) / 1000).toFixed(2)} s  ${what}`);
const http = client.http as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
for (const m of ['negotiate', 'putBlob', 'flushBlobs', 'commitVersion']) {
  const orig = http[m].bind(client.http);
  http[m] = async (...a: unknown[]) => { mark(`${m} start`); const r = await orig(...a); mark(`${m} end`); return r; };
}
const serverCpu = () => readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1].split(' ').slice(11, 13).map((x) => Number(x) / 100);
const s0 = serverCpu();
const cpu0 = process.cpuUsage();
const a = new Artifact('large', 'dataset');
await a.addDir(dir);
await a.log({ client, project: 'bench' });
mark('logged');
const c = process.cpuUsage(cpu0);
const s1 = serverCpu();
console.log(`client CPU user ${(c.user / 1e6).toFixed(2)} s, sys ${(c.system / 1e6).toFixed(2)} s; server CPU user ${(s1[0] - s0[0]).toFixed(2)} s, sys ${(s1[1] - s0[1]).toFixed(2)} s`);
await client.close();
await server.stop();
rmSync(base, { recursive: true, force: true });
