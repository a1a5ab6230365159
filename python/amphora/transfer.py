"""Moving bytes: streaming hashes, the shared content-addressed cache, batched blob negotiation
and parallel uploads/downloads (a thread pool; each thread keeps its own keep-alive connection).

Cache layout (identical to the TypeScript SDK): <cache>/blobs/sha256/<2 hex>/<64 hex>. A cached
blob is trusted only after its hash is re-checked while it is copied out.
"""
import hashlib
import os
import shutil
import threading
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

from .errors import AmphoraError
from .paths import join_inside, make_parent_inside
from .references import download_reference
from .settings import cached_blob_path
from .transport import API_PREFIX, CHUNK, error_from

NEGOTIATE_BATCH = 10_000
DEFAULT_WORKERS = min(16, max(4, (os.cpu_count() or 2) * 2))


def sha256_file(path):
    """(hex digest, size) of a file, read in chunks (never whole in memory)."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                break
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def temp_name(target):
    return "%s.amphora-tmp-%d-%s" % (target, os.getpid(), uuid.uuid4().hex[:8])


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass


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


class Stats:
    """What a transfer did; a download that found everything locally has bytes_downloaded == 0."""

    def __init__(self):
        self._lock = threading.Lock()
        self.bytes_downloaded = 0
        self.bytes_uploaded = 0
        self.files_downloaded = 0
        self.files_uploaded = 0
        self.cache_hits = 0
        self.already_present = 0

    def add(self, **counts):
        with self._lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)

    def as_dict(self):
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self):
        return "Stats(%s)" % ", ".join("%s=%s" % kv for kv in self.as_dict().items())


class Transfer:
    def __init__(self, http, cache_dir, workers=DEFAULT_WORKERS):
        from .statcache import StatCache

        self.http = http
        self.cache_dir = cache_dir
        self.workers = workers
        self.stat_cache = StatCache(cache_dir)
        self._pool = None
        self._pool_lock = threading.Lock()

    def pool(self):
        """Long-lived worker threads, so each keeps its keep-alive connection across transfers."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="amphora-transfer")
            return self._pool

    # ------------------------------------------------------------------ upload
    def upload(self, blobs, stats=None):
        """`blobs`: [{"digest", "size", "path"}]. Sends only what the server lacks."""
        stats = stats or Stats()
        by_digest = {}
        for b in blobs:
            by_digest.setdefault(b["digest"], b)
        specs = [{"digest": d, "size": b["size"]} for d, b in by_digest.items()]
        missing = []
        for i in range(0, len(specs), NEGOTIATE_BATCH):
            answer = self.http.post(API_PREFIX + "/blobs/negotiate", {"blobs": specs[i : i + NEGOTIATE_BATCH]})
            missing.extend(answer.get("missing", []))

        def put(m):
            blob = by_digest[m["digest"]]
            headers = {"content-type": "application/octet-stream"}
            headers.update({k.lower(): v for k, v in (m.get("headers") or {}).items()})
            headers["content-length"] = str(blob["size"])
            url = m.get("uploadUrl") or (API_PREFIX + "/blobs/" + m["digest"])
            resp = self.http.open("PUT", url, body=lambda: open(blob["path"], "rb"), headers=headers)
            data = resp.read()
            if resp.status >= 400:
                raise error_from(resp.status, data, "PUT", url)
            stats.add(bytes_uploaded=blob["size"], files_uploaded=1)

        parallel(put, missing, pool=self.pool())
        if missing:
            try:
                self.http.post(API_PREFIX + "/blobs/flush", {})
            except AmphoraError as e:
                if e.code != "not_found":
                    raise
        return stats

    def adopt(self, local, digest):
        """Puts a file the producer just logged into the cache: a hard link (free) or a copy when
        linking fails (other device). An existing blob is left alone."""
        target = cached_blob_path(self.cache_dir, digest)
        if os.path.exists(target):
            return
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            os.link(local, target)
            return
        except FileExistsError:
            return
        except OSError:
            pass
        try:
            copy_file(local, target)
        except OSError:
            pass  # the cache is an optimisation; logging already succeeded

    # ------------------------------------------------------------------ download
    def download(self, manifest, root, paths=None, stats=None):
        """Materializes entries of `manifest` under `root`; returns Stats."""
        stats = stats or Stats()
        os.makedirs(root, exist_ok=True)
        wanted = sorted(manifest) if paths is None else list(paths)
        jobs = []
        for logical in wanted:
            dest = join_inside(root, logical)
            jobs.append((logical, manifest[logical], dest))

        def fetch(job):
            logical, entry, dest = job
            make_parent_inside(root, dest, logical)
            if os.path.islink(dest):
                os.remove(dest)  # never write through a link planted in the download root
            if entry.get("ref"):
                self._fetch_reference(logical, entry, dest, stats)
            else:
                self._fetch_blob(entry["digest"], entry["size"], dest, stats)

        try:
            parallel(fetch, jobs, pool=self.pool())
        finally:
            self.stat_cache.flush()
        return stats

    def _fetch_blob(self, digest, size, dest, stats):
        if os.path.isfile(dest) and os.path.getsize(dest) == size and self.stat_cache.digest(dest)[0] == digest:
            stats.add(already_present=1)
            return
        cached = cached_blob_path(self.cache_dir, digest)
        if os.path.isfile(cached):
            if self._copy_verified(cached, dest, digest):
                self.stat_cache.record(dest, os.stat(dest), digest)
                stats.add(cache_hits=1)
                return
            _remove_quietly(cached)  # corrupted cache entry: fetch it again
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        cache_tmp, dest_tmp = temp_name(cached), temp_name(dest)
        path = API_PREFIX + "/blobs/" + digest
        resp = self.http.open("GET", path, headers={"Accept": "application/octet-stream"})
        for _ in range(5):  # team mode may redirect to presigned storage URLs
            if resp.status not in (301, 302, 303, 307, 308):
                break
            location = urllib.parse.urljoin(self.http.base_url + path, resp.getheader("Location"))
            resp.read()
            resp = self.http.open("GET", location)
        if resp.status >= 400:
            raise error_from(resp.status, resp.read(), "GET", path)
        h = hashlib.sha256()
        got = 0
        try:
            with open(cache_tmp, "wb") as c, open(dest_tmp, "wb") as d:
                while True:
                    chunk = resp.read(CHUNK)
                    if not chunk:
                        break
                    h.update(chunk)
                    c.write(chunk)
                    d.write(chunk)
                    got += len(chunk)
            if h.hexdigest() != digest:
                raise AmphoraError(
                    "digest_mismatch",
                    "Downloaded blob %s has SHA-256 %s (%d bytes); the server's copy is damaged. Nothing was written; "
                    "ask the server administrator to check its blob store." % (digest, h.hexdigest(), got),
                )
            os.replace(cache_tmp, cached)
            os.replace(dest_tmp, dest)
            self.stat_cache.record(dest, os.stat(dest), digest)
        finally:
            _remove_quietly(cache_tmp)
            _remove_quietly(dest_tmp)
        stats.add(bytes_downloaded=got, files_downloaded=1)

    @staticmethod
    def _copy_verified(src, dest, digest):
        tmp = temp_name(dest)
        h = hashlib.sha256()
        try:
            with open(src, "rb") as s, open(tmp, "wb") as d:
                while True:
                    chunk = s.read(CHUNK)
                    if not chunk:
                        break
                    h.update(chunk)
                    d.write(chunk)
            if h.hexdigest() != digest:
                return False
            os.replace(tmp, dest)
            return True
        finally:
            _remove_quietly(tmp)

    def _fetch_reference(self, logical, entry, dest, stats):
        tmp = temp_name(dest)
        try:
            got = download_reference(logical, entry, dest, tmp)
            os.replace(tmp, dest)
        finally:
            _remove_quietly(tmp)
        stats.add(bytes_downloaded=got, files_downloaded=1)


def copy_file(src, dest):
    tmp = temp_name(dest)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        _remove_quietly(tmp)
