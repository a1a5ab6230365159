import { AmphoraError } from './errors.js';

export interface PageRequest {
  limit: number;
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string | null;
}

/** Pages as large as the server allows: the fewest round trips for a whole listing. */
export const MAX_PAGE_SIZE = 1000;

/**
 * Every item of a cursor-paged listing, in the server's order: `fetchPage` is called with the
 * cursor of the previous page until there is none, or until `max` items are in hand (the rest are
 * not fetched). A server that hands back a cursor it already gave would loop forever: that is an
 * error, not a hang.
 */
export async function paginate<T>(fetchPage: (page: PageRequest) => Promise<Page<T>>, opts: { max?: number; pageSize?: number } = {}): Promise<T[]> {
  const max = opts.max ?? Infinity;
  const out: T[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await fetchPage({ limit: Math.min(opts.pageSize ?? MAX_PAGE_SIZE, max - out.length), cursor });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
    if (cursor !== undefined) {
      if (seen.has(cursor)) {
        throw new AmphoraError('internal', `The server returned the page cursor "${cursor.slice(0, 40)}" twice; its listing would never end. Retry; if it persists the server is broken — ask its administrator.`);
      }
      seen.add(cursor);
    }
  } while (cursor !== undefined && out.length < max);
  return out.length > max ? out.slice(0, max) : out;
}
