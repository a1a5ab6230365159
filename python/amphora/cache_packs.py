"""Small blobs of the download cache kept in pack files, <cache>/packs/<32 hex>.pack, instead of
a file each. Creating a file costs 45–300 µs on this kind of disk, ten times writing its 4 KiB: a
put or a download of 10,000 small files spent most of its time making their cache files. Now an
operation holds its small blobs (≤ PACKED_BLOB_MAX) in memory and writes them as one pack when it
ends (or when PACK_FLUSH_BYTES are held). Larger blobs and hard links stay one file per blob.

The TypeScript SDK reads and writes the same packs (src/client/cachePacks.ts); the format is the
server's (src/core/node/packFormat.ts), little endian:

    [blob bytes …][entry × count][trailer]
    entry   = digest (32 raw bytes) · offset from file start (u32) · size (u32)          40 bytes
    trailer = b"AMPHPK01" · count (u32) · reserved (u32, 0) · SHA-256 of the entries     48 bytes

A pack is written whole under a `.tmp` name and renamed into place, never changed, and deleted
whole (`amphora cache cleanup`, or a blob in it that fails its digest): a process that loaded its
index and finds it gone counts its blobs as absent and fetches them again. It is only a cache, so
nothing here raises for a damaged or vanished pack, and every read is verified against the digest.
"""
import hashlib
import os
import re
import struct
import threading
import uuid

PACKED_BLOB_MAX = 1 << 20  # = transfer.BATCH_BLOB_MAX: blobs a batch moves are the ones worth packing
PACK_FLUSH_BYTES = 16 << 20  # held past this, a pack is written without waiting for the operation's end (bounds memory; as in cachePacks.ts)
MAGIC = b"AMPHPK01"
ENTRY_BYTES = 40
TRAILER_BYTES = 48
PACK_NAME = re.compile(r"[0-9a-f]{32}\.pack")
_ENTRY = struct.Struct("<32sII")
_BOUNDS = struct.Struct("<32xII")  # an entry's (offset, size)
_TRAILER = struct.Struct("<8sII32s")
_IOV_MAX = 1024


class _Pack:
    __slots__ = ("id", "path", "index")

    def __init__(self, pack_id, path, index):
        self.id, self.path, self.index = pack_id, path, index


class CachePacks:
    """The packs of one cache folder, for one process. Every pack's index is read the first time
    the process asks about a small blob (never at import or start: a process that never downloads
    does not pay), then lookups cost no syscall. A later operation (after settle()) lists the
    folder once more and reads only the packs that are new (another process's download), so a
    long-lived process sees them too. Thread-safe: batch downloads store from several threads."""

    def __init__(self, cache_dir):
        self.dir = os.path.join(cache_dir, "packs")
        self._lock = threading.Lock()
        self._listed = False  # the folder was listed during this operation
        self._packs = {}  # id -> _Pack
        self._ids = {}  # pack path -> id
        self._next_id = 0
        # Raw 32-byte digest -> pack id << 32 | entry number: ~150 bytes a blob (a str key and a
        # tuple would be ~260); offset and size are read from the pack's index when needed.
        self._where = {}
        self._pending = {}  # digest hex -> bytes: readable by this process now, by others once flushed
        self._pending_bytes = 0
        self._fds = {}  # pack id -> fd opened by reads since the last settle(): one open per pack per operation
        self.dropped = 0  # packs found damaged and deleted (tests look at it)

    # ------------------------------------------------------------------ lookups
    def has(self, digest):
        """Whether the blob is packed or held for the next pack (no syscall once the index is in)."""
        with self._lock:
            return digest in self._pending or self._find(digest) is not None

    def get(self, digest, size):
        """The blob's bytes when a pack (or this process's pending pack) holds exactly `size` bytes
        hashing to `digest`, else None. A blob that fails its check gets its whole pack deleted
        and forgotten; a pack that cannot be read (vanished: another process cleaned the cache;
        or EIO, EMFILE…) is forgotten, not deleted: nothing says its bytes are wrong."""
        with self._lock:
            held = self._pending.get(digest)
            if held is not None:
                return held if len(held) == size else None  # verified when added
            found = self._find(digest)
            if found is None:
                return None
            pack, i = found
            offset, length = _BOUNDS.unpack_from(pack.index, i * ENTRY_BYTES)
            try:
                fd = self._fds.get(pack.id)
                if fd is None:
                    fd = self._fds[pack.id] = os.open(pack.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                data = os.pread(fd, length, offset)
            except OSError:
                self._forget(pack, damaged=False)
                return None
        # Hashed outside the lock: several download threads may read at once.
        if len(data) != length or hashlib.sha256(data).hexdigest() != digest:
            with self._lock:
                self._forget(pack, damaged=True)
            return None
        return data if length == size else None  # the right blob, but not the size asked for: the caller's error to report

    def _find(self, digest):
        """(pack, entry number) of a packed blob, or None; reads the index the first time."""
        if not self._listed:
            self._load()
        if not self._where:
            return None
        try:
            at = self._where.get(bytes.fromhex(digest))
        except (TypeError, ValueError):
            return None
        return None if at is None else (self._packs[at >> 32], at & 0xFFFFFFFF)

    def _load(self):
        """Reads the index of every pack not read yet, and forgets those no longer there."""
        self._listed = True
        try:
            names = sorted(n for n in os.listdir(self.dir) if PACK_NAME.fullmatch(n))
        except OSError:
            names = []  # no packs yet (or the cache was removed)
        paths = [os.path.join(self.dir, name) for name in names]
        listed = set(paths)
        for gone in [self._packs[i] for p, i in self._ids.items() if p not in listed]:
            self._forget(gone, damaged=False)  # removed by another process (cache cleanup)
        for path in paths:
            if path in self._ids:
                continue
            try:
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except OSError:
                continue  # removed meanwhile
            try:
                index = read_pack_index(fd)
            except OSError:
                continue  # unreadable (EIO): left alone, its blobs count as absent
            finally:
                os.close(fd)
            if isinstance(index, str):
                self.dropped += 1
                _remove_quietly(path)
            else:
                self._register(path, index)

    def _register(self, path, index):
        """Adds a pack's entries; a blob packed already keeps its first place (sorted names)."""
        pack = _Pack(self._next_id, path, index)
        self._next_id += 1
        self._packs[pack.id] = pack
        self._ids[path] = pack.id
        where, base = self._where, pack.id << 32
        for i, o in enumerate(range(0, len(index), ENTRY_BYTES)):
            key = index[o : o + 32]
            if key not in where:
                where[key] = base | i

    def _forget(self, pack, damaged):
        """Takes a pack's entries out of the index (deleting the file when `damaged`): its blobs
        are fetched again when wanted. Called with the lock held."""
        if self._packs.pop(pack.id, None) is None:
            return  # forgotten already (another thread saw the same damage)
        del self._ids[pack.path]
        fd = self._fds.pop(pack.id, None)
        if fd is not None:
            os.close(fd)
        where, index = self._where, pack.index
        for o in range(0, len(index), ENTRY_BYTES):
            key = index[o : o + 32]
            at = where.get(key)
            if at is not None and at >> 32 == pack.id:
                del where[key]
        if damaged:
            self.dropped += 1
            _remove_quietly(pack.path)

    # ------------------------------------------------------------------ writing
    def add(self, digest, data):
        """Holds a small blob's bytes (which hash to `digest`: the caller verified them) for the
        next pack, unless it is packed already. Writes the pack once PACK_FLUSH_BYTES are held."""
        with self._lock:
            if digest in self._pending or self._find(digest) is not None:
                return
            self._pending[digest] = bytes(data)  # no-op for bytes; a memoryview or bytearray is copied
            self._pending_bytes += len(data)
            if self._pending_bytes >= PACK_FLUSH_BYTES:
                self._flush()

    def settle(self):
        """End of an operation: writes what is held as one pack and closes the packs reads opened.
        Never raises (best effort, like every cache write)."""
        with self._lock:
            self._flush()
            self._listed = False  # the next operation looks for packs other processes wrote meanwhile
            for fd in self._fds.values():
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._fds.clear()

    def _flush(self):
        """Writes the held blobs as one pack (temp file + rename: a pack under its name is whole).
        An OSError loses them from the cache, nothing more: a later download fetches them. Under
        the lock, so the blobs stay readable throughout."""
        if not self._pending:
            return
        blobs, self._pending, self._pending_bytes = self._pending, {}, 0
        index, chunks = encode_pack(blobs)
        path = os.path.join(self.dir, uuid.uuid4().hex + ".pack")
        tmp = f"{path}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
            except FileNotFoundError:
                os.makedirs(self.dir, exist_ok=True)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
            try:
                _write_chunks(fd, chunks)
            finally:
                os.close(fd)
            os.replace(tmp, path)  # no fsync: a pack torn by a power cut fails its checks and is dropped
        except OSError:
            _remove_quietly(tmp)
            return
        self._register(path, index)


def encode_pack(blobs):
    """(index, chunks): a pack of `blobs` (digest hex -> bytes, in order) as the buffers to write
    back to back, and its entries region. Flushing at PACK_FLUSH_BYTES keeps offsets within u32."""
    entries, at = [], 0
    for digest, data in blobs.items():
        entries.append(_ENTRY.pack(bytes.fromhex(digest), at, len(data)))
        at += len(data)
    index = b"".join(entries)
    trailer = _TRAILER.pack(MAGIC, len(blobs), 0, hashlib.sha256(index).digest())
    return index, [*blobs.values(), index, trailer]


def read_pack_index(fd):
    """A pack's entries region, or why the file is not a pack to trust (short, wrong signature,
    count past its size, checksum, an entry past the blob region)."""
    size = os.fstat(fd).st_size
    if size < TRAILER_BYTES:
        return f"{size} bytes is shorter than a pack's trailer"
    trailer = _pread_all(fd, TRAILER_BYTES, size - TRAILER_BYTES)
    if len(trailer) != TRAILER_BYTES:
        return "it was cut short while being read"
    magic, count, _, checksum = _TRAILER.unpack(trailer)
    if magic != MAGIC:
        return "its trailer lacks the pack signature"
    blob_bytes = size - TRAILER_BYTES - count * ENTRY_BYTES
    if blob_bytes < 0:
        return f"its trailer claims {count} entries, more than its {size} bytes hold"
    index = _pread_all(fd, count * ENTRY_BYTES, blob_bytes)
    if len(index) != count * ENTRY_BYTES or hashlib.sha256(index).digest() != checksum:
        return "its index does not match the checksum in its trailer"
    if count and max(o + n for o, n in _BOUNDS.iter_unpack(index)) > blob_bytes:
        return f"an entry ends past its {blob_bytes} bytes of blobs"
    return index


def _pread_all(fd, n, offset):
    parts, got = [], 0
    while got < n:
        chunk = os.pread(fd, n - got, offset + got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _write_chunks(fd, chunks):
    """Writes the buffers back to back: writev in groups (no 64 MiB join), write where it is missing."""
    writev = getattr(os, "writev", None)
    for i in range(0, len(chunks), _IOV_MAX):
        group = chunks[i : i + _IOV_MAX]
        done = writev(fd, group) if writev is not None else 0
        total = sum(len(c) for c in group)
        if done < total:  # a short write (or no writev): the rest one by one
            view = memoryview(b"".join(group))[done:]
            while view:
                view = view[os.write(fd, view):]


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass
