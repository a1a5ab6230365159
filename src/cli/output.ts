/** CLI output: human text or `--json`, exit codes, and progress bars (stderr, TTY only). */
import cliProgress from 'cli-progress';
import { AmphoraError, type ErrorCode } from '../core/errors.js';
import { formatBytes } from '../core/bytes.js';
import type { Progress } from '../client/transfer.js';
import { guardTerminal } from './terminal.js';

export const EXIT = { ok: 0, failure: 1, usage: 2, notFound: 3, unreachable: 4, conflict: 5 } as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  failure (unexpected error, wrong/revoked/expired API key, role too low, missing or refused cloud credentials)
  2  usage error (unknown command or option, missing argument)
  3  not found (artifact, version, alias, project or run)
  4  server unreachable (start one with \`amphora serve\` or set AMPHORA_BASE_URL)
  5  conflict or invalid input (bad name/path/reference, type mismatch, aliased version, changed reference)

Environment: AMPHORA_BASE_URL, AMPHORA_API_KEY, AMPHORA_ENTITY, AMPHORA_PROJECT,
AMPHORA_DATA_DIR (server), AMPHORA_CACHE_DIR (client cache), AMPHORA_STORAGE_ORIGINS (storage origins
transfer URLs may point at besides the server, comma-separated), AMPHORA_BOOTSTRAP_KEY (team server).`;

const CONFLICT: ErrorCode[] = [
  'invalid_name', 'invalid_type', 'invalid_alias', 'invalid_reference', 'invalid_path', 'invalid_manifest',
  'invalid_request', 'type_mismatch', 'conflict', 'aliased_version', 'digest_mismatch', 'missing_blobs',
  'payload_too_large', 'unsupported', 'reference_changed',
];

export function exitCodeFor(e: unknown): number {
  if (!(e instanceof AmphoraError)) return EXIT.failure;
  if (e.code === 'not_found') return EXIT.notFound;
  if (e.code === 'server_unreachable') return EXIT.unreachable;
  if (CONFLICT.includes(e.code)) return EXIT.conflict;
  return EXIT.failure;
}

export interface Out {
  json: boolean;
  /** Prints a result: JSON (stdout) or the human text. */
  result(data: unknown, human: () => string): void;
  info(msg: string): void;
  progress(label: string): ((p: Progress) => void) & { stop(): void };
}

export function makeOut(json: boolean): Out {
  return {
    json,
    result(data, human) {
      process.stdout.write(json ? JSON.stringify(data, null, 2) + '\n' : human() + '\n');
    },
    info(msg) {
      if (!json) process.stderr.write(msg + '\n');
    },
    progress(label) {
      if (json || !process.stderr.isTTY) {
        const f = ((_p: Progress) => {}) as unknown as ((p: Progress) => void) & { stop(): void };
        f.stop = () => {};
        return f;
      }
      let bar: cliProgress.SingleBar | undefined;
      let phase = '';
      let release: (() => void) | undefined;
      const f = ((p: Progress) => {
        // Transfers move the bar by bytes (a single large file shows progress as it goes); hashing by files.
        const byBytes = !!p.totalBytes;
        if (p.phase !== phase) {
          bar?.stop();
          phase = p.phase;
          bar = new cliProgress.SingleBar(
            {
              stream: process.stderr,
              format: `${label} ${p.phase.padEnd(8)} [{bar}] ${byBytes ? '{mb} · {files} files' : '{value}/{total} files'}`,
              hideCursor: true,
              clearOnComplete: true,
            },
            cliProgress.Presets.shades_classic,
          );
          release ??= guardTerminal(process.stderr, () => bar?.stop());
          bar.start(byBytes ? p.totalBytes! : p.total, 0, { mb: '', files: '' });
        }
        const payload = { mb: byBytes ? `${formatBytes(p.bytes ?? 0)}/${formatBytes(p.totalBytes!)}` : '', files: `${p.done}/${p.total}` };
        bar!.update(byBytes ? (p.bytes ?? 0) : p.done, payload);
      }) as ((p: Progress) => void) & { stop(): void };
      f.stop = () => {
        bar?.stop();
        release?.();
        release = undefined;
      };
      return f;
    },
  };
}

export function table(rows: string[][]): string {
  if (!rows.length) return '';
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

export function reportError(e: unknown, json: boolean): number {
  const code = exitCodeFor(e);
  const err = e instanceof AmphoraError ? { code: e.code, message: e.message } : { code: 'internal', message: (e as Error)?.message ?? String(e) };
  if (json) process.stdout.write(JSON.stringify({ error: err }, null, 2) + '\n');
  process.stderr.write(`amphora: ${err.message}\n`);
  return code;
}
