const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/**
 * Sizes as every surface writes them (CLI, tree, CodeLens, lineage view, manifest diff): binary
 * units, named as such — 1536 → "1.5 KiB", 55_000_000 → "52 MiB" (one decimal below 10).
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  // Rounding can carry into the next unit (1023.6 KiB → "1024 KiB"): show "1.0 MiB" instead.
  if (Math.round(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 9.95 ? v.toFixed(1) : Math.round(v)} ${UNITS[u]}`;
}
