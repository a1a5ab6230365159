"""Streaming SHA-256 of files and the short-lived worker pool that hashes many at once. Low in the
import graph: transfer, references, statcache, artifact and offline all use it."""
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

from .transport import CHUNK

DEFAULT_WORKERS = min(16, max(4, (os.cpu_count() or 2) * 2))

def sha256_file(path):
    """(hex digest, size) of a file, read in chunks (never whole in memory)."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for chunk in chunks(f):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


# Files up to this size are read whole when hashed, and their bytes reused (upload, cache).
SMALL_READ = 1 << 20


def read_small(path, size):
    """A small file's bytes in one read (plain syscalls, no buffered file object): up to size + 1
    bytes, so a file that grew since its stat shows as longer."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        parts, got = [], 0
        while got <= size:
            want = size + 1 - got
            chunk = os.read(fd, want)
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
            if got == size and len(chunk) < want:
                break  # a regular file reads short only at its end: no second read to learn that
    except OSError as e:
        if e.filename is None:
            e.filename = path  # name the file, as open() would
        raise
    finally:
        os.close(fd)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def chunks(stream):
    """The stream's bytes in CHUNK-sized pieces until it ends."""
    return iter(lambda: stream.read(CHUNK), b"")


def parallel(fn, items, workers=DEFAULT_WORKERS, pool=None):
    """Runs fn over items on a thread pool (a short-lived one unless `pool` is given); re-raises
    the first error after all finished."""
    items = list(items)
    if not items:
        return []
    if len(items) == 1:
        return [fn(items[0])]
    if pool is None:
        with ThreadPoolExecutor(max_workers=min(workers, len(items))) as own:
            futures = [own.submit(fn, it) for it in items]
    else:
        futures = [pool.submit(fn, it) for it in items]
        for f in futures:
            f.exception()  # wait for all
    results, first_error = [], None
    for f in futures:
        try:
            results.append(f.result())
        except BaseException as e:  # noqa: BLE001 - re-raised below
            first_error = first_error or e
            results.append(None)
    if first_error is not None:
        raise first_error
    return results
