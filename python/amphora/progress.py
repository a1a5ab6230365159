"""Byte progress of a transfer on stderr, like the CLI's bar: only on a terminal, only when the
transfer is large enough to take a while, and never with WANDB_SILENT / AMPHORA_SILENT set."""
import os
import sys
import threading
import time

# Transfers smaller than this finish before a progress line is worth drawing.
MIN_BYTES = 16 << 20


def _mib(n):
    return f"{n / float(1 << 20):.1f}"


def _silent():
    return any(os.environ.get(k, "").lower() in ("1", "true", "yes") for k in ("WANDB_SILENT", "AMPHORA_SILENT"))


class ByteProgress:
    """Counts bytes per blob (a retried blob restarts its own count instead of adding twice) and
    redraws one line, at most every `interval` seconds; `close()` clears it."""

    def __init__(self, phase, total_bytes, total_files, stream=None, interval=0.1):
        self.stream = stream if stream is not None else sys.stderr
        self.phase = phase
        self.total_bytes = total_bytes
        self.total_files = total_files
        self.interval = interval
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty()) and total_bytes >= MIN_BYTES and not _silent()
        self._per_blob = {}
        self._files = 0
        self._bytes = 0
        self._lock = threading.Lock()
        self._last = 0.0
        self._drawn = False

    def update(self, key, so_far):
        """Blob `key` has moved `so_far` bytes in its current attempt."""
        self._moved(key, so_far, 0)

    def done(self, key, size):
        """Blob `key` is complete at `size` bytes."""
        self._moved(key, size, 1)

    def _moved(self, key, so_far, files_done):
        if not self.enabled:
            return
        with self._lock:
            self._bytes += so_far - self._per_blob.get(key, 0)
            self._per_blob[key] = so_far
            self._files += files_done
            self._draw()

    def _draw(self):
        now = time.monotonic()
        if now - self._last < self.interval and self._files < self.total_files:
            return
        self._last = now
        self._drawn = True
        self.stream.write(f"\ramphora: {self.phase} {_mib(min(self._bytes, self.total_bytes))}/{_mib(self.total_bytes)} MiB ({self._files}/{self.total_files} files)\x1b[K")
        self.stream.flush()

    def close(self):
        if self.enabled and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


class CountingReader:
    """A file object for an upload body that reports how much of it was read."""

    def __init__(self, f, report):
        self._f = f
        self._report = report
        self._read = 0

    def read(self, n=-1):
        data = self._f.read(n)
        self._read += len(data)
        self._report(self._read)
        return data

    def close(self):
        self._f.close()
