/**
 * Where each packed blob is, in 24–48 bytes a blob instead of the ~160 of a Map keyed by
 * 64-character strings: an open-addressing hash table of typed arrays keyed by the digest's first
 * 32 bits, whose slots point at (pack, entry) pairs. The full digest lives once, in the pack's
 * entry buffer, and is compared there on a hit, so two digests sharing a prefix never mix up.
 * A server holding a million packed blobs keeps 24–48 MB of table (plus the entries' 40 bytes
 * each); 200,000 load in ~0.15 s with the packs' checksums (bench/README.md, "Small files").
 */

const EMPTY = 0;
const TOMBSTONE = 0xffff_ffff;
const MIN_CAPACITY = 1024;

export class PackTable {
  /** Digest prefix of each slot. */
  private keys = new Uint32Array(MIN_CAPACITY);
  /** Pack id + 1 of each slot: 0 = empty, TOMBSTONE = removed. */
  private packs = new Uint32Array(MIN_CAPACITY);
  private entries = new Uint32Array(MIN_CAPACITY);
  private used = 0;
  private tombstones = 0;

  /** `matches(pack, entry, digest)`: whether that entry's full digest is `digest`. */
  constructor(private readonly matches: (pack: number, entry: number, digest: Buffer) => boolean) {}

  get size(): number {
    return this.used;
  }

  /** The (pack, entry) holding `digest` (32 raw bytes), or undefined. */
  find(digest: Buffer): { pack: number; entry: number } | undefined {
    const slot = this.slotOf(digest);
    return slot < 0 ? undefined : { pack: this.packs[slot] - 1, entry: this.entries[slot] };
  }

  /** Adds `digest` at (pack, entry) unless it is already present; true when added. */
  add(digest: Buffer, pack: number, entry: number): boolean {
    if (pack >= TOMBSTONE - 1) throw new Error('PackTable: too many packs');
    if ((this.used + this.tombstones + 1) * 2 > this.keys.length) this.resize(this.used + 1);
    if (this.slotOf(digest) >= 0) return false;
    const key = digest.readUInt32BE(0);
    const mask = this.keys.length - 1;
    for (let i = key & mask; ; i = (i + 1) & mask) {
      const p = this.packs[i];
      if (p === EMPTY || p === TOMBSTONE) {
        if (p === TOMBSTONE) this.tombstones--;
        this.keys[i] = key;
        this.packs[i] = pack + 1;
        this.entries[i] = entry;
        this.used++;
        return true;
      }
    }
  }

  /** Points a present digest at another (pack, entry) (a pack rewrite). */
  move(digest: Buffer, pack: number, entry: number): void {
    const slot = this.slotOf(digest);
    if (slot < 0) throw new Error('PackTable.move: digest not present');
    this.packs[slot] = pack + 1;
    this.entries[slot] = entry;
  }

  /** Removes `digest`; true when it was present. */
  delete(digest: Buffer): boolean {
    const slot = this.slotOf(digest);
    if (slot < 0) return false;
    this.packs[slot] = TOMBSTONE;
    this.used--;
    this.tombstones++;
    return true;
  }

  private slotOf(digest: Buffer): number {
    const key = digest.readUInt32BE(0);
    const mask = this.keys.length - 1;
    for (let i = key & mask; ; i = (i + 1) & mask) {
      const p = this.packs[i];
      if (p === EMPTY) return -1;
      if (p !== TOMBSTONE && this.keys[i] === key && this.matches(p - 1, this.entries[i], digest)) return i;
    }
  }

  /** Rehashes into a table at most half full for `want` entries (dropping tombstones). */
  private resize(want: number): void {
    let cap = MIN_CAPACITY;
    while (cap < want * 2 + 2) cap *= 2;
    const { keys, packs, entries } = this;
    this.keys = new Uint32Array(cap);
    this.packs = new Uint32Array(cap);
    this.entries = new Uint32Array(cap);
    this.tombstones = 0;
    const mask = cap - 1;
    for (let j = 0; j < keys.length; j++) {
      const p = packs[j];
      if (p === EMPTY || p === TOMBSTONE) continue;
      let i = keys[j] & mask;
      while (this.packs[i] !== EMPTY) i = (i + 1) & mask;
      this.keys[i] = keys[j];
      this.packs[i] = p;
      this.entries[i] = entries[j];
    }
  }
}
