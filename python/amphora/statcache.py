"""A stat cache so an unchanged file is not hashed twice (same on-disk format as the TypeScript
SDK's, src/client/hash.ts, so the two clients share it): keyed by absolute path, valid while size,
mtime, inode and ctime match. ctime matters because mtime can be set back after an edit; the kernel
moves ctime on every change and nobody can set it.

Layout: <cacheDir>/stat-cache/<2 hex>/<sha256(folder)>.json holding
{"dir": folder, "entries": {basename: [size, mtimeMs, ino, digest, ctimeMs]}}; rows without ctime
(older clients) never match.
"""
import hashlib
import json
import os
import threading
import uuid

from .hashing import SMALL_READ, read_small, sha256_file


def _ms(ns):
    # Node's Stats.mtimeMs/ctimeMs: seconds * 1e3 + nanoseconds / 1e6, computed in doubles the same way.
    return (ns // 1_000_000_000) * 1e3 + (ns % 1_000_000_000) / 1e6


def _mtime_ms(st):
    return _ms(st.st_mtime_ns)


def _ctime_ms(st):
    return _ms(st.st_ctime_ns)


def _same_state(row, st):
    return (isinstance(row, list) and len(row) == 5 and row[0] == st.st_size and row[1] == _mtime_ms(st)
            and row[2] == st.st_ino and row[4] == _ctime_ms(st))


class StatCache:
    def __init__(self, cache_dir):
        self.cache_dir = cache_dir
        self._folders = {}
        self._dirty = set()
        self._lock = threading.Lock()
        self.hashed = 0  # hashes actually computed (tests and benchmarks read this)

    def _file_for(self, folder):
        h = hashlib.sha256(folder.encode("utf-8", "surrogatepass")).hexdigest()
        return os.path.join(self.cache_dir, "stat-cache", h[:2], h + ".json")

    def _folder(self, folder):
        rows = self._folders.get(folder)
        if rows is None:
            rows = {}
            try:
                with open(self._file_for(folder), "r", encoding="utf-8") as f:
                    data = json.load(f)
                if isinstance(data, dict) and data.get("dir") == folder and isinstance(data.get("entries"), dict):
                    rows = data["entries"]
            except (OSError, ValueError):
                pass
            self._folders[folder] = rows
        return rows

    def lookup(self, path, st):
        """The digest recorded for this exact file state, if any."""
        path = os.path.abspath(path)
        with self._lock:
            row = self._folder(os.path.dirname(path)).get(os.path.basename(path))
        return row[3] if _same_state(row, st) else None

    def record(self, path, st, digest):
        path = os.path.abspath(path)
        folder = os.path.dirname(path)
        with self._lock:
            self._folder(folder)[os.path.basename(path)] = [st.st_size, _mtime_ms(st), st.st_ino, digest, _ctime_ms(st)]
            self._dirty.add(folder)

    def refresh_linked(self, paths):
        """Re-records files whose only change since hashing is a new link (the cache's hard link
        moves their ctime): otherwise logging would make the next log re-hash everything."""
        for path in paths:
            path = os.path.abspath(path)
            with self._lock:
                row = self._folder(os.path.dirname(path)).get(os.path.basename(path))
            if not (isinstance(row, list) and len(row) == 5):
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue
            if row[0] == st.st_size and row[1] == _mtime_ms(st) and row[2] == st.st_ino and row[4] != _ctime_ms(st):
                self.record(path, st, row[3])

    def digest(self, path, st=None):
        """(digest, size) of a file, from the cache when its size, mtime and inode are unchanged.
        `st`: the file's stat when the caller just took it."""
        digest, size, _, _ = self.read(path, st)
        return digest, size

    def read(self, path, st=None):
        """(digest, size, data, known) of a file: `known` when the stat cache answered (nothing
        read), `data` the bytes hashed when the file is small (≤ SMALL_READ, read in one go and
        kept so the caller can upload and cache them without opening the file again), else None.
        `st`: the file's stat when the caller just took it (not taken again)."""
        if st is None:
            st = os.stat(path)
        known = self.lookup(path, st)
        if known:
            return known, st.st_size, None, True
        if st.st_size <= SMALL_READ:
            # One read of a small file is a consistent snapshot: it is cached under the state stat
            # saw when it has that many bytes (a later change moves mtime/ctime, so the row stops
            # matching), with no second stat to see whether it changed while being read.
            data = read_small(path, st.st_size)
            if len(data) <= st.st_size:  # longer: it grew since its stat, hash it whole below
                digest = hashlib.sha256(data).hexdigest()
                with self._lock:
                    self.hashed += 1
                if len(data) == st.st_size:
                    self.record(path, st, digest)
                return digest, len(data), data, False
        digest, size = sha256_file(path)
        with self._lock:
            self.hashed += 1
        after = os.stat(path)
        # A file that changed while being hashed must not be cached under the new state.
        same = (after.st_size, after.st_mtime_ns, after.st_ino, after.st_ctime_ns) == (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
        if same and size == st.st_size:
            self.record(path, st, digest)
        return digest, size, None, False

    def move_tree(self, old, new):
        """Rows recorded (not flushed yet) under folder `old` and below now belong under `new`
        (a renamed folder: its files keep inode, size and times); `new` None forgets them."""
        with self._lock:
            for folder in [f for f in self._folders if f == old or f.startswith(old + os.sep)]:
                rows = self._folders.pop(folder)
                self._dirty.discard(folder)
                if new is not None:
                    moved = new + folder[len(old):]
                    self._folders[moved] = rows
                    self._dirty.add(moved)

    def flush(self):
        """Writes changed folders (temp file + rename; a lost race only costs a re-hash later)."""
        with self._lock:
            dirty, self._dirty = list(self._dirty), set()
            snapshot = {d: dict(self._folders[d]) for d in dirty}
        for folder, entries in snapshot.items():
            target = self._file_for(folder)
            try:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                tmp = f"{target}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump({"dir": folder, "entries": entries}, f, ensure_ascii=False, separators=(",", ":"))
                os.replace(tmp, target)
            except OSError:
                pass  # an optimisation only
