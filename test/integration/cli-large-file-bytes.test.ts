/**
 * What a CLI download of a large file costs in bytes moved through files, counted with strace
 * (byte counts do not move with machine load; seconds do, so no timings here). On a file system
 * without clones every byte written into a new page-cache page is the dominant cost of a large
 * download (bench/transfer.ts): each byte should be written once per copy the design keeps (the
 * download root and the cache), never copied a second time in the kernel or read back.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { requireBuilt } from '../support/built.js';
import { runChild } from '../support/runChild.js';
import { testBackend } from './server-helpers.js';

const CLI = path.resolve('dist/cli.mjs');
const SIZE = 6 * 1024 * 1024 + 123; // above the batch limit: streamed on its own

/** Bytes per syscall kind on regular files below `under` (strace -y names each fd's path). */
interface Moved {
  read: number;
  readFrom: Map<string, number>;
  written: number;
  /** copy_file_range / sendfile: a copy made in the kernel. */
  kernelCopied: number;
}

function bytesMoved(traceFile: string, under: string): Moved {
  const m: Moved = { read: 0, readFrom: new Map(), written: 0, kernelCopied: 0 };
  const add = (name: string, file: string, n: number) => {
    // The CLI's compiled code (src/cli/codeCache.ts) lives in the cache dir too; only blob bytes count here.
    if (!file.startsWith(under) || /\.v8(\.\d+\.tmp)?$/.test(file)) return;
    if (name === 'copy_file_range' || name === 'sendfile') m.kernelCopied += n;
    else if (/^(read|pread64|readv)$/.test(name)) {
      m.read += n;
      m.readFrom.set(file, (m.readFrom.get(file) ?? 0) + n);
    } else m.written += n;
  };
  // Calls from thread-pool threads interleave: "<pid> writev(5</f>, … <unfinished …>" is finished
  // later by "<pid> <… writev resumed>…) = N".
  const pending = new Map<string, string>();
  for (const line of readFileSync(traceFile, 'utf8').split('\n')) {
    const start = /^(\d+)\s+(\w+)\(\d+<([^>]*)>/.exec(line);
    const ret = /\)\s+=\s+(\d+)/.exec(line);
    if (start && line.endsWith('<unfinished ...>')) pending.set(start[1], `${start[2]}\0${start[3]}`);
    else if (start && ret) add(start[2], start[3], Number(ret[1]));
    else {
      const resumed = /^(\d+)\s+<\.\.\. (\w+) resumed>/.exec(line);
      const was = resumed && pending.get(resumed[1]);
      if (was && ret) {
        const [name, file] = was.split('\0');
        add(name, file, Number(ret[1]));
      }
      if (resumed) pending.delete(resumed[1]);
    }
  }
  return m;
}

describe('CLI bytes moved per large file downloaded (strace counts, not timings)', function () {
  this.timeout(180_000);
  let base: string;
  let server: { url: string; apiKey: string; close(): Promise<void> };
  let backend: Awaited<ReturnType<typeof testBackend>> | undefined;
  let clones = false;

  /** Runs the CLI (asynchronously: the server answers from this process), under strace when `trace` names a file. */
  const cli = async (args: string[], cache: string, trace?: string): Promise<void> => {
    const cmd = [process.execPath, CLI, '--json', ...args];
    const strace = ['-f', '-qq', '-y', '-e', 'trace=read,pread64,readv,write,pwrite64,writev,copy_file_range,sendfile', '-o', trace!];
    const env = { PATH: process.env.PATH, HOME: base, AMPHORA_BASE_URL: server.url, AMPHORA_API_KEY: server.apiKey, AMPHORA_CACHE_DIR: cache };
    await runChild(trace ? 'strace' : cmd[0], trace ? [...strace, ...cmd] : cmd.slice(1), env, `amphora ${args.join(' ')}`);
  };

  /** A download under strace; the cache lives under base/w too, so its writes count. */
  const traced = async (tag: string, args: string[], cache = 'cache'): Promise<Moved> => {
    const out = path.join(base, `${tag}.trace`);
    await cli(args, path.join(base, 'w', cache), out);
    return bytesMoved(out, path.join(base, 'w'));
  };

  before(async function () {
    requireBuilt(this, CLI);
    if (spawnSync('strace', ['-V']).status !== 0) throw new Error('strace is needed (scripts/setup.sh installs it)');
    base = mkdtempSync(path.join(tmpdir(), 'amphora-large-bytes-'));
    mkdirSync(path.join(base, 'w'));
    // Clones make a copy free: then the cache gets one instead of a second written copy.
    writeFileSync(path.join(base, 'w', 'probe'), 'x');
    clones = spawnSync('cp', ['--reflink=always', path.join(base, 'w', 'probe'), path.join(base, 'w', 'probe2')]).status === 0;
    const { startServer } = await import('../../src/server/index.js');
    backend = await testBackend(path.join(base, 'data'));
    server = await startServer({ ...backend.options, host: '127.0.0.1', port: 0, quiet: true, logLevel: 'silent' });
    const dir = path.join(base, 'ds');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'weights.bin'), randomBytes(SIZE));
    // Logged from another cache: the downloads below start from an empty one.
    await cli(['artifact', 'put', dir, '--name', 'bytes/model', '--type', 'model'], path.join(base, 'producer'));
  });
  after(async () => {
    await server?.close();
    await backend?.drop();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  it('a cold download into a new root writes each byte once per copy kept, reads nothing back and copies nothing in the kernel', async () => {
    const moved = await traced('cold', ['artifact', 'get', 'bytes/model:latest', '--root', path.join(base, 'w', 'cold')]);
    assert.equal(moved.read, 0, `read back: ${JSON.stringify([...moved.readFrom])}`);
    if (clones) assert.ok(moved.written >= SIZE && moved.written < 1.1 * SIZE, `written ${moved.written}`);
    else {
      assert.equal(moved.kernelCopied, 0, 'no kernel copy into the cache: writing the bytes in hand costs less');
      assert.ok(moved.written >= 2 * SIZE && moved.written < 2.1 * SIZE, `written ${moved.written} for ${SIZE} (root + cache)`);
    }
  });

  it('a download of a cached blob into a new root reads the cache once and never reads its copy back', async () => {
    const root = path.join(base, 'w', 'cached');
    const moved = await traced('cached', ['artifact', 'get', 'bytes/model:latest', '--root', root]);
    const fromRoot = [...moved.readFrom].filter(([f]) => f.startsWith(root) || f.includes('.amphora-'));
    assert.deepEqual(fromRoot, [], 'the copy is hashed as it is written, not read back');
    assert.ok(moved.read >= SIZE && moved.read < 1.1 * SIZE, `read ${moved.read} for ${SIZE}`);
    if (!clones) assert.equal(moved.kernelCopied, 0);
  });

  it('a cold download into an existing root does the same: each byte written once per copy, nothing read back', async () => {
    const root = path.join(base, 'w', 'existing');
    mkdirSync(root);
    writeFileSync(path.join(root, 'notes.txt'), 'already here');
    const moved = await traced('existing', ['artifact', 'get', 'bytes/model:latest', '--root', root], 'cache2');
    assert.equal(moved.read, 0, `read back: ${JSON.stringify([...moved.readFrom])}`);
    if (!clones) {
      assert.equal(moved.kernelCopied, 0);
      assert.ok(moved.written >= 2 * SIZE && moved.written < 2.1 * SIZE, `written ${moved.written} for ${SIZE} (root + cache)`);
    }
    assert.equal(readFileSync(path.join(root, 'notes.txt'), 'utf8'), 'already here');
  });
});
