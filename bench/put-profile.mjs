// Server CPU per GiB received by PUT /blobs/:digest (256 MiB × ROUNDS), from /proc.
//   node esbuild.mjs && node bench/put-profile.mjs   [ROUNDS=3] [PROF=/tmp/prof: --cpu-prof the server] [SERVER=dist/server.mjs]
// PUT one large file N times to a server, report time and server CPU (from /proc).
import { spawn } from 'node:child_process';
import { createReadStream, readFileSync, writeFileSync, openSync, writeSync, closeSync, mkdtempSync } from 'node:fs';
import { createHash, randomFillSync } from 'node:crypto';
import { createInterface } from 'node:readline';
import { request, Agent } from 'undici';
const dir = mkdtempSync((await import('node:os')).tmpdir() + '/amphora-put-');
const file = dir + '/big.bin';
const SIZE = 256 << 20;
const buf = Buffer.alloc(8 << 20); randomFillSync(buf);
const fd = openSync(file, 'w'); for (let i = 0; i < SIZE / buf.length; i++) { buf.writeUInt32LE(i, 0); writeSync(fd, buf); } closeSync(fd);
const digest = createHash('sha256').update(readFileSync(file)).digest('hex');
const args = [...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.PROF] : []), (process.env.SERVER ?? '/work/main/dist/server.mjs'), '--data-dir', dir + '/data', '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn'];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
// Start-up steps ({"event":"starting"}) come before the listening line.
const line = await new Promise((r) => createInterface({ input: child.stdout }).on('line', (l) => l.includes('"listening"') && r(l)));
const { url } = JSON.parse(line);
const key = JSON.parse(readFileSync(dir + '/data/server.json', 'utf8')).apiKey;
const cpuParts = () => { const s = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1].split(" "); return [Number(s[11]) / 100, Number(s[12]) / 100]; }; const cpu = () => { const [u, k] = cpuParts(); return u + k; };
const agent = new Agent({ connections: 4 });
const rounds = Number(process.env.ROUNDS ?? 3);
for (let i = 0; i < rounds; i++) {
  const c0 = cpu(); const p0 = cpuParts(); const t0 = performance.now();
  const res = await agent.request({ origin: url, path: `/api/v1/blobs/${digest}`, method: 'PUT', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream', 'content-length': String(SIZE) }, body: createReadStream(file, { highWaterMark: 1 << 20 }) });
  const text = await res.body.text();
  const t = (performance.now() - t0) / 1000; const c = cpu() - c0; const p1 = cpuParts(); console.log(`  user ${(p1[0]-p0[0]).toFixed(2)} sys ${(p1[1]-p0[1]).toFixed(2)}`);
  console.log(`PUT ${SIZE >> 20} MiB: ${res.statusCode} ${t.toFixed(2)} s, server CPU ${c.toFixed(2)} s → ${(c * 1024 / (SIZE >> 20)).toFixed(2)} s/GiB`, text.slice(0, 60));
  // remove the blob so the next round writes again
  const { rmSync } = await import('node:fs'); rmSync(`${dir}/data/blobs/sha256/${digest.slice(0, 2)}/${digest}`, { force: true });
}
await agent.close();
child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r));
const { rmSync } = await import('node:fs'); rmSync(dir, { recursive: true, force: true });
