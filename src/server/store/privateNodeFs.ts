import type { PGlite } from '@electric-sql/pglite';
import { NodeFS } from '@electric-sql/pglite/nodefs';
import { fsyncSync } from 'node:fs';

/**
 * PGlite's folder file system with owner-only files. Emscripten chmods every file it creates to
 * the mode PGlite asks for (0666), which bypasses the process umask; this masks group and other
 * bits out of every chmod, so the database files are 0600 and its folders 0700.
 *
 * It also gives Postgres a real fsync: Emscripten's NODEFS has none (fsync(2) from the database
 * returned success without touching the disk), so a commit was acknowledged while its WAL record
 * could still be lost to a power cut. With this, fsync(2) on a database file is fsync on the real
 * file; the server starts Postgres with fsync on and wal_sync_method=fsync (its fdatasync is a
 * no-op in Emscripten), see DURABLE_SETTINGS in pgliteParams.ts.
 */
export class PrivateNodeFS extends NodeFS {
  /** fsyncs passed to the disk (tests check that a commit makes one). */
  syncs = 0;

  override async init(pg: PGlite, opts: Parameters<NodeFS['init']>[1]) {
    const out = await super.init(pg, opts);
    const emscripten = out.emscriptenOpts;
    emscripten.preRun = [
      ...(emscripten.preRun ?? []),
      (mod: { FS: unknown; NODEFS: { stream_ops: { fsync?: (stream: { nfd?: number }) => number } } }) => {
        mod.NODEFS.stream_ops.fsync = (stream) => {
          if (stream.nfd !== undefined) fsyncSync(stream.nfd);
          this.syncs++;
          return 0;
        };
        const fs = mod.FS as unknown as { chmod: (path: unknown, mode: number, dontFollow?: boolean) => void };
        const chmod = fs.chmod.bind(fs);
        fs.chmod = (path, mode, dontFollow) => chmod(path, mode & ~0o077, dontFollow);
      },
    ];
    return out;
  }
}
