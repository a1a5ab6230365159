import type { PGlite } from '@electric-sql/pglite';
import { NodeFS } from '@electric-sql/pglite/nodefs';

/**
 * PGlite's folder file system with owner-only files. Emscripten chmods every file it creates to
 * the mode PGlite asks for (0666), which bypasses the process umask; this masks group and other
 * bits out of every chmod, so the database files are 0600 and its folders 0700.
 */
export class PrivateNodeFS extends NodeFS {
  override async init(pg: PGlite, opts: Parameters<NodeFS['init']>[1]) {
    const out = await super.init(pg, opts);
    const emscripten = out.emscriptenOpts;
    emscripten.preRun = [
      ...(emscripten.preRun ?? []),
      (mod: { FS: unknown }) => {
        const fs = mod.FS as unknown as { chmod: (path: unknown, mode: number, dontFollow?: boolean) => void };
        const chmod = fs.chmod.bind(fs);
        fs.chmod = (path, mode, dontFollow) => chmod(path, mode & ~0o077, dontFollow);
      },
    ];
    return out;
  }
}
