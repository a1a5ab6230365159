import assert from 'node:assert/strict';
import { paginate, type PageRequest } from '../../src/core/paginate.js';
import { AmphoraError } from '../../src/core/errors.js';

/** A paged listing of 0..total-1 as the server pages it: the cursor is the next offset. */
function listing(total: number) {
  const calls: PageRequest[] = [];
  const fetchPage = async (q: PageRequest) => {
    calls.push(q);
    const from = q.cursor ? Number(q.cursor) : 0;
    const items = Array.from({ length: Math.max(0, Math.min(q.limit, total - from)) }, (_, i) => from + i);
    const next = from + items.length;
    return { items, nextCursor: next < total ? String(next) : null };
  };
  return { calls, fetchPage };
}

describe('core: paginate (every cursor-paged listing)', () => {
  it('follows the cursors to the end, in the server order, with the largest pages', async () => {
    const l = listing(2500);
    const all = await paginate(l.fetchPage);
    assert.deepEqual(all, Array.from({ length: 2500 }, (_, i) => i));
    assert.deepEqual(l.calls, [{ limit: 1000, cursor: undefined }, { limit: 1000, cursor: '1000' }, { limit: 1000, cursor: '2000' }]);
  });

  it('stops at max and fetches no more than it needs', async () => {
    const l = listing(10_000);
    const some = await paginate(l.fetchPage, { max: 1500 });
    assert.equal(some.length, 1500);
    assert.deepEqual(l.calls.map((c) => c.limit), [1000, 500]);
  });

  it('keeps at most max items when a server sends more than asked', async () => {
    const some = await paginate(async () => ({ items: [1, 2, 3, 4, 5], nextCursor: null }), { max: 2 });
    assert.deepEqual(some, [1, 2]);
  });

  it('an empty listing is one request', async () => {
    const l = listing(0);
    assert.deepEqual(await paginate(l.fetchPage), []);
    assert.equal(l.calls.length, 1);
  });

  it('a server that repeats a cursor is an error that says so, not an endless loop', async () => {
    let calls = 0;
    const loop = async () => ({ items: [calls++], nextCursor: calls % 2 ? 'a' : 'b' });
    await assert.rejects(
      paginate(loop),
      (e: unknown) => e instanceof AmphoraError && /cursor "a" twice/.test(e.message) && /Retry/.test(e.message),
    );
    assert.equal(calls, 3);
  });
});
