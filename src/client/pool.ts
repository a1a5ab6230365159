/** Runs `fn` over `items` with at most `limit` in flight; the first error stops new work and is thrown. */
export async function mapPool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.error;
  return results;
}

/** Default parallelism for transfers: enough to hide latency on keep-alive connections. */
export const TRANSFER_CONCURRENCY = 12;
/** Hashing and stat work on local disks. */
export const LOCAL_CONCURRENCY = 16;
