"""Moving bytes: streaming hashes, the shared content-addressed cache, batched blob negotiation
and parallel uploads/downloads (a thread pool; each thread keeps its own keep-alive connection).

Cache layout (identical to the TypeScript SDK): blobs ≤ 1 MiB written from bytes in hand go into
pack files, <cache>/packs/<32 hex>.pack, one per operation (see cache_packs.py: a file per blob cost
most of a 10,000-file put or download); larger blobs and hard links are a file each,
<cache>/blobs/sha256/<2 hex>/<64 hex>, which is also where older caches keep small ones. A cached
blob is trusted only after its hash is re-checked while it is copied out. A blob may be a hard link
to a file the user logged (read-only, or policy="immutable"), so nothing here ever writes into an
existing blob: blobs are created exclusively or renamed into place, and a damaged one is unlinked.
"""
import contextlib
import errno
import hashlib
import io
import json
import os
import shutil
import stat
import threading
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor, wait as futures_wait

from .errors import AmphoraError
from . import progress as progress_mod
from .cache_packs import PACKED_BLOB_MAX, CachePacks
from .hashing import DEFAULT_WORKERS, parallel, sha256_file
from .paths import join_inside, make_parent_inside
from .received import check_transfer_url, require_blob_digest
from .references import download_reference
from .settings import cached_blob_path
from .statcache import StatCache
from .storage_retry import storage_open
from .transport import API_PREFIX, CHUNK, error_from

NEGOTIATE_BATCH = 10_000
# Blobs up to BATCH_BLOB_MAX travel together, ≤ BATCH_FILES / BATCH_BYTES per request (the server
# takes blobs up to 4 MiB in a batch); same limits as the TypeScript SDK.
BATCH_BLOB_MAX = 1 << 20
BATCH_FILES = 1_000
BATCH_BYTES = 16 << 20
# Groups of a streaming upload (see StreamingUpload) sent at once while hashing goes on.
UPLOAD_GROUPS_IN_FLIGHT = 2
BATCH_GET_PARALLEL = 4
# Parts of one multipart upload in flight at once (team mode, large blobs).
PART_WORKERS = 4



def temp_name(target):
    return f"{target}.amphora-tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass


def batches(items, size_of):
    """Splits items into groups of ≤ BATCH_FILES items / ≤ BATCH_BYTES (a group closes once it reaches either)."""
    groups, group, total = [], [], 0
    for it in items:
        group.append(it)
        total += size_of(it)
        if len(group) >= BATCH_FILES or total >= BATCH_BYTES:
            groups.append(group)
            group, total = [], 0
    if group:
        groups.append(group)
    return groups


def _is_not_found(e):
    return isinstance(e, AmphoraError) and e.code == "not_found"



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
        return f'Stats({", ".join(f"{k}={v}" for k, v in self.as_dict().items())})'


_NO_PROGRESS = progress_mod.ByteProgress("", 0, 0, stream=object())


class StreamingUpload:
    """Uploads the small files of a log in groups while the rest are still being hashed: hashing
    10,000 small files and sending them overlap instead of following each other. Each group is
    negotiated and sent (Transfer.upload) on its own thread, at most UPLOAD_GROUPS_IN_FLIGHT at
    once (on the transfer's group_pool, whose threads keep their connections across logs), which
    bounds the bytes held; the caller makes them durable once at the end (flush)."""

    def __init__(self, transfer, total_bytes, total_files):
        self.transfer = transfer
        self.stats = Stats()
        self.sent = set()
        self._group, self._group_bytes = [], 0
        self._futures = []
        self._slots = threading.Semaphore(UPLOAD_GROUPS_IN_FLIGHT)
        self.bar = progress_mod.ByteProgress("upload", total_bytes, total_files, transfer.progress_stream)

    def add(self, blob):
        """A freshly hashed small file: {"digest", "size", "path", "bytes"}."""
        if blob["digest"] in self.sent:
            self.bar.done(blob["path"], blob["size"])
            return
        self.sent.add(blob["digest"])
        self._group.append(blob)
        self._group_bytes += blob["size"]
        if len(self._group) >= BATCH_FILES or self._group_bytes >= BATCH_BYTES:
            self._send()

    def skip(self, key, size):
        """A file that is not sent here (known to the stat cache, or large): counted as done."""
        self.bar.done(key, size)

    def _send(self):
        group, self._group, self._group_bytes = self._group, [], 0
        if not group:
            return
        for f in self._futures:
            if f.done() and f.exception() is not None:
                raise f.exception()  # stop hashing: the log fails anyway
        self._slots.acquire()  # hashing waits while the groups in flight are full

        def run():
            try:
                return self.transfer.upload(group, Stats(), flush=False, bar=self.bar)
            finally:
                self._slots.release()

        self._futures.append(self.transfer.group_pool().submit(run))

    def finish(self):
        """Sends the last group and waits for all; returns what they uploaded."""
        try:
            self._send()
            for f in self._futures:
                got = f.result()
                self.stats.add(bytes_uploaded=got.bytes_uploaded, files_uploaded=got.files_uploaded)
        finally:
            self.close()
        return self.stats

    def close(self):
        """Drops the groups not started and waits for those in flight (no group is left sending),
        then clears the progress line."""
        for f in self._futures:
            f.cancel()
        futures_wait(self._futures)
        self.bar.close()


class Transfer:
    def __init__(self, http, cache_dir, workers=DEFAULT_WORKERS):
        self.http = http
        self.cache_dir = cache_dir
        self.workers = workers
        self.stat_cache = StatCache(cache_dir)
        # Small cache blobs: held in memory during an operation, one pack file at its end (settle_cache).
        self.packs = CachePacks(cache_dir)
        # Where byte progress goes (None: sys.stderr at the time of the transfer; drawn on a terminal only).
        self.progress_stream = None
        self._bar = _NO_PROGRESS
        self._pool = None
        self._group_pool = None
        self._pool_lock = threading.Lock()
        self._base = None  # see _base_parts

    def pool(self):
        """Long-lived worker threads, so each keeps its keep-alive connection across transfers."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="amphora-transfer")
            return self._pool

    def group_pool(self):
        """Long-lived threads for the groups of a streaming upload (StreamingUpload): apart from
        pool() because a group waits for its batches, which run there."""
        with self._pool_lock:
            if self._group_pool is None:
                self._group_pool = ThreadPoolExecutor(max_workers=UPLOAD_GROUPS_IN_FLIGHT, thread_name_prefix="amphora-upload")
            return self._group_pool

    # ------------------------------------------------------------------ upload
    def upload(self, blobs, stats=None, flush=True, bar=None):
        """`blobs`: [{"digest", "size", "path"}, optionally "bytes": the file's bytes just hashed,
        sent instead of reading the file again]. Sends only what the server lacks. `flush=False`
        leaves making them durable to the caller (one POST /blobs/flush after several uploads);
        `bar`: a progress bar the caller owns (blobs the server holds already count as done)."""
        stats = stats or Stats()
        by_digest = {}
        for b in blobs:
            by_digest.setdefault(b["digest"], b)
        specs = [{"digest": d, "size": b["size"]} for d, b in by_digest.items()]
        missing = []
        for i in range(0, len(specs), NEGOTIATE_BATCH):
            answer = self.http.post(API_PREFIX + "/blobs/negotiate", {"blobs": specs[i : i + NEGOTIATE_BATCH]})
            missing.extend(answer.get("missing", []))

        for m in missing:
            if not isinstance(m, dict) or m.get("digest") not in by_digest:
                raise AmphoraError("internal", f'The server asked for blob {m.get("digest") if isinstance(m, dict) else m}, which this upload does not contain; '
                                   "retry the upload.")
            if m.get("size") != by_digest[m["digest"]]["size"]:
                raise AmphoraError("internal", f'The server asked for blob {m["digest"]} with {m.get("size")!r} bytes, but it has {by_digest[m["digest"]]["size"]}; the server is '
                                   "broken or not trustworthy.")
            if m.get("uploadUrl") is not None:
                self.blob_target(m["uploadUrl"], m["digest"], bool(m.get("confirm")))
            for part in m.get("parts") or []:
                self.blob_target(part.get("url") if isinstance(part, dict) else None, m["digest"], True)
            if m.get("headers") is not None and not (isinstance(m["headers"], dict) and all(
                    isinstance(k, str) and isinstance(v, str) for k, v in m["headers"].items())):
                raise AmphoraError("internal", f'The server sent upload headers for blob {m["digest"]} that are not text; the server '
                                   "is broken or not trustworthy.")

        own_bar = bar is None
        if own_bar:
            bar = progress_mod.ByteProgress("upload", sum(m["size"] for m in missing), len(missing), self.progress_stream)
        else:
            wanted = {m["digest"] for m in missing}
            for d, b in by_digest.items():
                if d not in wanted:
                    bar.done(d, b["size"])

        def put(m):
            blob = by_digest[m["digest"]]
            handed_out = bool(m.get("confirm"))
            parts = None
            if m.get("parts"):
                parts = self._put_parts(m, blob)
            else:
                headers = {"content-type": "application/octet-stream"}
                headers.update({k.lower(): v for k, v in (m.get("headers") or {}).items()})
                headers["content-length"] = str(blob["size"])
                url = self.blob_target(m.get("uploadUrl") or (API_PREFIX + "/blobs/" + m["digest"]), m["digest"], handed_out)
                def body():
                    source = io.BytesIO(blob["bytes"]) if blob.get("bytes") is not None else open(blob["path"], "rb")
                    return progress_mod.CountingReader(source, lambda n: bar.update(m["digest"], n))

                if handed_out:  # presigned storage: retried on 5xx (see storage_retry)
                    storage_open(self.http, "PUT", url, body=body, headers=headers).read()
                else:
                    resp = self.http.open("PUT", url, body=body, headers=headers)
                    data = resp.read()
                    if resp.status >= 400:
                        raise error_from(resp.status, data, "PUT", url)
            if handed_out:
                # The bytes went straight to storage: the server verifies them before counting them.
                item = {"digest": m["digest"], "size": m["size"], "confirm": m["confirm"]}
                if parts is not None:
                    item["parts"] = parts
                self.http.post(API_PREFIX + "/blobs/confirm", {"blobs": [item]})
            stats.add(bytes_uploaded=blob["size"], files_uploaded=1)
            bar.done(m["digest"], blob["size"])

        def send(job):
            """A large blob (one PUT) or a group of small ones (one POST /blobs/batch); returns what
            still needs a PUT each because the server has no batch route."""
            kind, item = job
            if kind == "one":
                put(item)
                return []
            if self.http.batch_supported:
                try:
                    self._put_batch([by_digest[m["digest"]] for m in item])
                    stats.add(bytes_uploaded=sum(m["size"] for m in item), files_uploaded=len(item))
                    for m in item:
                        bar.done(m["digest"], m["size"])
                    return []
                except AmphoraError as e:
                    if not _is_not_found(e):
                        raise
                    self.http.batch_supported = False
            return item

        use_batch = self.http.batch_supported

        def batchable(m):
            return use_batch and m["size"] <= BATCH_BLOB_MAX and not m.get("confirm")

        small = [m for m in missing if batchable(m)]
        jobs = [("batch", g) for g in batches(small, lambda m: m["size"])]
        jobs += [("one", m) for m in missing if not batchable(m)]
        try:
            leftovers = [m for rest in parallel(send, jobs, pool=self.pool()) for m in rest]
            parallel(put, leftovers, pool=self.pool())
        finally:
            if own_bar:
                bar.close()
        if missing and flush:
            self.flush()
        return stats

    def flush(self):
        """Makes every blob uploaded so far durable on the server (a server without the route
        syncs at commit anyway)."""
        try:
            self.http.post(API_PREFIX + "/blobs/flush", {})
        except AmphoraError as e:
            if e.code != "not_found":
                raise

    def blob_target(self, url, digest, handed_out):
        """The one check of where a blob's bytes may go or come from: the server's own route for this
        very digest (sent to our server, with the API key), or a storage URL the server handed out
        for this blob (a negotiation entry with a confirm token, or the redirect of its GET), which
        Http.open sends without the API key because it is another origin."""
        own_path = API_PREFIX + "/blobs/" + require_blob_digest(digest, "a transfer")
        base, prefix = self._base_parts()
        if url == own_path and base.scheme in ("http", "https") and not (prefix and own_path.startswith(prefix + "/")):
            # The server's usual answer (its route as a bare path): what the parsing below returns
            # for it, without parsing 10,000 URLs for a first log of 10,000 files.
            return own_path
        full = urllib.parse.urljoin(self.http.base_url + "/", url if isinstance(url, str) else "")
        split = urllib.parse.urlsplit(full)
        if split.scheme not in ("http", "https"):
            raise _refuse(digest, url, f"uses {split.scheme}:")
        path = split.path[len(prefix):] if prefix and split.path.startswith(prefix + "/") else split.path
        if path == own_path and (not handed_out or (split.scheme, split.netloc) == (base.scheme, base.netloc)):
            # Whatever host name the server put in its own URL, its route goes to our connection.
            return own_path + ("?" + split.query if split.query else "")
        if handed_out:
            # Storage: no credentials in the URL, and on the user's storage origins when they named any.
            return check_transfer_url(full, self.http.base_url, self.http.storage_origins, True)
        raise _refuse(digest, url, "is neither the server's route for this blob nor a storage URL handed out for it")

    def _base_parts(self):
        """(split base URL, its path prefix), computed once per base URL."""
        base_url = self.http.base_url
        cached = self._base
        if cached is None or cached[0] != base_url:
            base = urllib.parse.urlsplit(base_url)
            cached = self._base = (base_url, base, base.path.rstrip("/"))
        return cached[1:]

    def _put_parts(self, m, blob):
        """Multipart upload: each part's byte range of the file to its presigned URL (a few at once);
        returns [{"number", "etag"}] for /blobs/confirm."""
        parts = m["parts"]
        if sum(p["size"] for p in parts) != m["size"]:
            raise AmphoraError("internal", f"The server's parts for blob {m['digest']} do not cover its {int(m['size'])} bytes; upgrade client "
                               "and server to the same version.")

        def put_part(p):
            url = self.blob_target(p["url"], m["digest"], True)

            def body():
                f = open(blob["path"], "rb")
                f.seek(p["offset"])
                return _Slice(f, p["size"])

            resp = storage_open(self.http, "PUT", url, body=body, headers={"content-length": str(p["size"])})
            resp.read()
            etag = resp.getheader("ETag")
            if not etag:
                raise AmphoraError("internal", f'The storage answered part {int(p["number"])} of blob {m["digest"]} without an ETag; upload again.')
            return {"number": p["number"], "etag": etag}

        with ThreadPoolExecutor(max_workers=PART_WORKERS, thread_name_prefix="amphora-part") as pool:
            return list(pool.map(put_part, parts))

    def _put_batch(self, blobs):
        """POST /blobs/batch: a JSON header line, then each file's bytes back to back (read file by
        file, sent in ~1 MiB writes). The server re-hashes every blob."""
        header = (json.dumps({"blobs": [{"digest": b["digest"], "size": b["size"]} for b in blobs]}) + "\n").encode()
        total = len(header) + sum(b["size"] for b in blobs)

        def body():
            pending = [header]
            held = len(header)
            for b in blobs:
                data = b.get("bytes")
                if data is None:  # not held in memory: read it now
                    with open(b["path"], "rb") as f:
                        data = f.read(b["size"] + 1)
                if len(data) != b["size"]:
                    raise AmphoraError("invalid_path", f'{b["path"]} changed while being uploaded ({len(data)} bytes, expected {b["size"]}); log it again.')
                pending.append(data)
                held += len(data)
                if held >= CHUNK:
                    yield b"".join(pending)
                    pending, held = [], 0
            if pending:
                yield b"".join(pending)

        path = API_PREFIX + "/blobs/batch"
        resp = self.http.open("POST", path, body=body,
                              headers={"content-type": "application/octet-stream", "content-length": str(total)})
        data = resp.read()
        if resp.status >= 400:
            raise error_from(resp.status, data, "POST", path)

    def adopt(self, local, digest, link=False):
        """Puts a file the producer just logged into the cache. A read-only file is hard-linked (free);
        a writable one is copied (a small one into the pending pack, see settle_cache), so a user
        appending to it later never changes the cached blob.
        `link`: the user promised the file will not change (policy="immutable"): it is hard-linked
        whatever its mode. A file that cannot be linked (another file system, fs.protected_hardlinks,
        too many links) is copied instead. An existing blob is left alone. Best effort: returns
        whether the cache now links to the file, never raises."""
        target = cached_blob_path(self.cache_dir, digest)
        # A link costs one link(2); its folder is made only when link says it is missing.
        try:
            if link or not os.stat(local).st_mode & 0o222:
                self._link(local, target)
                return True
        except FileExistsError:
            return False
        except OSError:
            pass
        try:
            if self._pack_file(local, digest):
                return False
            if not os.path.exists(target):
                try:
                    copy_file(local, target)
                except FileNotFoundError:
                    if not os.path.exists(local):
                        return False  # the file is gone: nothing to cache, no folders made for nothing
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    copy_file(local, target)
        except OSError:
            pass  # the cache is an optimisation; logging already succeeded
        return False

    def _pack_file(self, local, digest):
        """A small file's bytes into the pending pack, when they still hash to `digest` (a file
        changed since it was hashed must not put a wrong blob in a pack, whose damage costs the
        whole pack); False for a large file, which is copied as a file of its own."""
        with open(local, "rb") as f:
            if os.fstat(f.fileno()).st_size > PACKED_BLOB_MAX:
                return False
            data = f.read(PACKED_BLOB_MAX + 1)
        if len(data) <= PACKED_BLOB_MAX and hashlib.sha256(data).hexdigest() == digest:
            self.packs.add(digest, data)
        return True

    def link_or_adopt_bytes(self, local, data, digest):
        """adopt_bytes for a small file the user promised will not change (policy="immutable"): the
        cache takes a hard link to `local` instead of a copy of `data` (the bytes just hashed from
        it, hashing to `digest`), so logging writes nothing more. Where the link fails for any
        reason but an existing blob, the bytes are written as for any other file. Returns whether
        the cache now links to the file (its ctime moved: see StatCache.refresh_linked)."""
        target = cached_blob_path(self.cache_dir, digest)
        try:
            self._link(local, target)
            return True
        except FileExistsError:
            return False
        except OSError:
            pass
        self.adopt_bytes(data, digest)
        return False

    def adopt_bytes(self, data, digest):
        """Puts the bytes of a small file the producer just hashed into the cache, from memory: no
        second open and read of the user's file. `digest` is the hash of exactly these bytes.
        Held for the pack the log writes at its end (settle_cache): no file is created per blob.
        (Bytes over PACKED_BLOB_MAX, which callers do not pass today, get a file of their own, with
        one exclusive create: a blob torn by a crash mid-write is dropped on first use, since every
        read of the cache re-checks the hash.) An existing blob is left alone. Best effort, like
        adopt(): a cache that cannot take the bytes costs a later download, never the log."""
        if len(data) <= PACKED_BLOB_MAX:
            self.packs.add(digest, data)
            return
        target = cached_blob_path(self.cache_dir, digest)
        try:
            _in_cache_folder(self.cache_dir, target, lambda: _create_blob(target, data))
        except (OSError, AmphoraError):
            pass  # a cache that cannot take it (a failed write left no torn blob)

    def settle_cache(self):
        """End of an operation that may have added to the cache (a log, a download): the small
        blobs held meanwhile become one pack, and the packs read are closed. Never raises."""
        self.packs.settle()

    @staticmethod
    def _link(local, target):
        try:
            os.link(local, target)
        except FileNotFoundError:
            if not os.path.exists(local):
                raise
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.link(local, target)

    # ------------------------------------------------------------------ download
    def download(self, manifest, root, paths=None, stats=None, skip_cache=False):
        """Materializes entries of `manifest` under `root`; returns Stats. `skip_cache` (W&B's):
        nothing is added to the blob cache, fetched bytes are verified and written to the root only
        (a second path of the same blob is fetched again); blobs the cache already holds are still
        used, verified as always."""
        stats = stats or Stats()
        try:
            if not os.path.lexists(root) and self._download_fresh(manifest, root, paths, stats, skip_cache):
                return stats
            return self._download_into(manifest, root, paths, stats, skip_cache=skip_cache)
        finally:
            self.settle_cache()  # also after a failure: a retry finds what was fetched so far

    def _download_fresh(self, manifest, root, paths, stats, skip_cache=False):
        """A root that does not exist yet is built in a private sibling folder and renamed into
        place once complete (as the TypeScript SDK does): nobody sees its files meanwhile, so each
        is written directly instead of through its own temp file + rename, and an interrupted
        download leaves no half-filled root. False (after cleaning up) when the root appeared
        meanwhile: the caller takes the ordinary per-file path."""
        parent = os.path.dirname(os.path.abspath(root))
        os.makedirs(parent, exist_ok=True)
        # Not tempfile.mkdtemp: its mode 0700 would become the root's.
        staging = os.path.join(parent, f".{os.path.basename(os.path.abspath(root))}.amphora-{uuid.uuid4().hex[:12]}")
        os.mkdir(staging)
        try:
            got = self._download_into(manifest, staging, paths, Stats(), fresh=True, skip_cache=skip_cache)
            try:
                os.rename(staging, root)
            except OSError as e:
                if e.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                    return False
                raise
            # A folder rename keeps each file's inode, size and times: the rows stay valid.
            self.stat_cache.move_tree(staging, os.path.abspath(root))
            staging = None
            stats.add(**got.as_dict())
            return True
        finally:
            if staging is not None:
                self.stat_cache.move_tree(staging, None)
                shutil.rmtree(staging, ignore_errors=True)
            self.stat_cache.flush()

    def _download_into(self, manifest, root, paths, stats, fresh=False, skip_cache=False):
        """`fresh`: root is a private folder this download just made (files are written directly);
        `skip_cache`: fetched blobs are not added to the cache."""
        os.makedirs(root, exist_ok=True)
        wanted = sorted(manifest) if paths is None else list(paths)
        jobs = []
        for logical in wanted:
            dest = join_inside(root, logical)
            jobs.append((logical, manifest[logical], dest))
        stored = [e for _, e, _ in jobs if not e.get("ref")]
        packable = {e["digest"] for e in stored if e["size"] <= PACKED_BLOB_MAX}
        uncached = absent_from_cache(self.cache_dir, [e["digest"] for e in stored],
                                     packed=lambda d: d in packable and self.packs.has(d))
        checked = set()  # folders already made and proven inside root: once per folder, not per file

        def prepare(job):
            """Everything that needs no blob from the server; returns the job when it does."""
            logical, entry, dest = job
            parent = os.path.dirname(dest)
            if parent not in checked:
                make_parent_inside(root, dest, logical)
                checked.add(parent)
            try:
                st = None if fresh else os.lstat(dest)
            except FileNotFoundError:
                st = None
            if st is not None and stat.S_ISLNK(st.st_mode):
                os.remove(dest)  # never write through a link planted in the download root
                st = None
            if entry.get("ref"):
                self._fetch_reference(logical, entry, dest, stats)
                return None
            return None if self._from_local(entry["digest"], entry["size"], dest, stats, st, entry["digest"] in uncached, fresh) else job

        # Small files one after another: each is a few syscalls and a hash of a few KiB, where
        # handing them to a pool of threads costs more in lock traffic than it saves (10,000 files:
        # ~600,000 futex calls). Large ones and references in parallel: their I/O and hashing run
        # without the interpreter lock.
        small = [j for j in jobs if not j[1].get("ref") and j[1]["size"] <= BATCH_BLOB_MAX]
        other = [j for j in jobs if j[1].get("ref") or j[1]["size"] > BATCH_BLOB_MAX]
        try:
            remote = [j for j in map(prepare, small) if j is not None]
            remote += [j for j in parallel(prepare, other, pool=self.pool()) if j is not None]
            self._fetch_remote(remote, stats, fresh, skip_cache)
        finally:
            if not fresh:  # a fresh root's rows are flushed under its final name (_download_fresh)
                self.stat_cache.flush()
        return stats

    def _fetch_remote(self, jobs, stats, fresh=False, skip_cache=False):
        """Small blobs in POST /blobs/batch-get requests (≤ BATCH_GET_PARALLEL at once), large ones
        streamed one per request; a batch the server answers 404 (older server, or a blob it lacks)
        is fetched blob by blob, which names exactly what is missing."""
        dests = {}  # digest -> (size, [dest, ...])
        for _, entry, dest in jobs:
            dests.setdefault(entry["digest"], (entry["size"], []))[1].append(dest)
        self._bar = progress_mod.ByteProgress("download", sum(size for size, _ in dests.values()), len(dests), self.progress_stream)
        try:
            self._fetch_remote_blobs(dests, jobs, stats, fresh, skip_cache)
        finally:
            self._bar.close()
            self._bar = _NO_PROGRESS

    def _fetch_remote_blobs(self, dests, jobs, stats, fresh, skip_cache=False):
        small = [d for d, (size, _) in dests.items() if size <= BATCH_BLOB_MAX] if self.http.batch_supported else []
        small_set = set(small)
        work = [("batch", g) for g in batches(small, lambda d: dests[d][0])]
        work += [("one", (e["digest"], e["size"], dest)) for _, e, dest in jobs if e["digest"] not in small_set]
        gate = threading.Semaphore(BATCH_GET_PARALLEL)

        def run(job):
            kind, item = job
            if kind == "one":
                self._fetch_blob(*item, stats, skip_cache)
                return []
            with gate:
                try:
                    self._fetch_batch(item, dests, stats, fresh, skip_cache)
                    return []
                except AmphoraError as e:
                    if not _is_not_found(e):
                        raise
            return [(d, dests[d][0], dest) for d in item for dest in dests[d][1]]

        leftovers = [j for rest in parallel(run, work, pool=self.pool()) for j in rest]
        parallel(lambda j: self._fetch_blob(*j, stats, skip_cache), leftovers, pool=self.pool())

    def _fetch_batch(self, digests, dests, stats, fresh=False, skip_cache=False):
        """One POST /blobs/batch-get: reads each blob's bytes in order, verifies its SHA-256, stores it
        in the cache (unless `skip_cache`) and writes every destination through a temp file + rename."""
        path = API_PREFIX + "/blobs/batch-get"
        resp = self.http.open("POST", path, body=json.dumps({"digests": digests}).encode(),
                              headers={"content-type": "application/json", "accept": "application/octet-stream"})
        if resp.status >= 400:
            raise error_from(resp.status, resp.read(), "POST", path)
        done = 0
        try:
            for digest in digests:
                size, targets = dests[digest]
                data = _read_exactly(resp, size)
                actual = hashlib.sha256(data).hexdigest()
                if len(data) != size or actual != digest:
                    raise AmphoraError(
                        "digest_mismatch",
                        f"Downloaded blob {digest} has SHA-256 {actual} ({len(data)} of {int(size)} bytes) in a batch download; the server's copy is "
                        "damaged or the response was cut short. It was not written; ask the server administrator to "
                        "check its blob store.",
                    )
                self._store(digest, data, targets, fresh, skip_cache)
                stats.add(bytes_downloaded=size, files_downloaded=len(targets))
                self._bar.done(digest, size)
                done += 1
            if resp.read(1):
                raise AmphoraError("internal", f"The server's batch download sent bytes after the last of its {len(digests)} blobs; "
                                   "retry the download.")
        except BaseException:
            resp.close()
            self.http.abandon(path)  # the rest of the response is unread: this connection is done
            raise

    def _store(self, digest, data, targets, fresh=False, skip_cache=False):
        """Verified bytes in hand: into the cache (not with `skip_cache`: held for the download's
        pack when small, else one exclusive create, see _create_blob), then each destination (temp
        file + rename, or written directly into a fresh root's private folder)."""
        if not skip_cache:
            if len(data) <= PACKED_BLOB_MAX:
                self.packs.add(digest, data)
            else:
                cached = cached_blob_path(self.cache_dir, digest)
                _in_cache_folder(self.cache_dir, cached, lambda: _create_blob(cached, data))
        for target in targets:
            (_write_new if fresh else _write_replace)(target, data)
        for dest in targets:
            self.stat_cache.record(dest, os.stat(dest), digest)

    def _from_local(self, digest, size, dest, stats, st=False, uncached=False, fresh=False):
        """True when dest already holds the blob or a verified copy came from the cache. `st` is
        dest's lstat when the caller has it (None: absent); `uncached`: the cache is known to lack it."""
        if st is False:
            try:
                st = os.lstat(dest)
            except FileNotFoundError:
                st = None
        if st is not None and stat.S_ISREG(st.st_mode) and st.st_size == size and self.stat_cache.digest(dest, st)[0] == digest:
            stats.add(already_present=1)
            return True
        if size <= PACKED_BLOB_MAX:
            data = self.packs.get(digest, size)  # verified; a damaged pack is dropped and None comes back
            if data is not None:
                (_write_new if fresh else _write_replace)(dest, data)
                self.stat_cache.record(dest, os.stat(dest), digest)
                stats.add(cache_hits=1)
                return True
        if uncached:
            return False
        cached = cached_blob_path(self.cache_dir, digest)
        copied = self._copy_verified(cached, dest, digest, size, fresh)
        if copied:
            self.stat_cache.record(dest, os.stat(dest), digest)
            stats.add(cache_hits=1)
            return True
        if copied is False:
            _remove_quietly(cached)  # corrupted cache entry: fetch it again
        return False

    def _fetch_blob(self, digest, size, dest, stats, skip_cache=False):
        """Streams one blob from the server to dest (temp file + rename), hashed on the way and
        stopped at `size` bytes, and into the cache in the same pass unless `skip_cache` (a small
        blob's bytes are kept for the download's pack instead of a cache file)."""
        if self._from_local(digest, size, dest, stats):
            return  # e.g. another destination of the same blob brought it into the cache
        cached = cached_blob_path(self.cache_dir, digest)
        cache_tmp, dest_tmp = temp_name(cached), temp_name(dest)
        path = API_PREFIX + "/blobs/" + digest
        resp = self.http.open("GET", path, headers={"Accept": "application/octet-stream"})
        source = path
        if resp.status in (302, 303, 307):  # team mode: large blobs come straight from the bucket
            source = self.blob_target(resp.getheader("Location") or "", digest, True)
            resp.read()
            resp = storage_open(self.http, "GET", source)
        if resp.status >= 400:
            raise error_from(resp.status, resp.read(), "GET", path)
        h = hashlib.sha256()
        got = 0
        held = [] if not skip_cache and size <= PACKED_BLOB_MAX else None
        try:
            c = None if skip_cache or held is not None else _in_cache_folder(self.cache_dir, cached, lambda: open(cache_tmp, "xb"))
            with c or contextlib.nullcontext(), open(dest_tmp, "wb") as d:
                while True:
                    chunk = resp.read(CHUNK)
                    if not chunk:
                        break
                    got += len(chunk)
                    if got > size:  # stop at the first byte past the manifest's size
                        break
                    h.update(chunk)
                    if c is not None:
                        c.write(chunk)
                    elif held is not None:
                        held.append(chunk)
                    d.write(chunk)
                    self._bar.update(digest, got)
            if got != size:
                resp.close()
                self.http.abandon(source)  # the rest of the response is unread
                raise AmphoraError(
                    "digest_mismatch",
                    f'The server sent {f"more than {int(size)}" if got > size else got} bytes of blob {digest} where the manifest lists {int(size)}; nothing was written. Retry; if it '
                    "persists the server's copy or its manifest is damaged.",
                )
            if h.hexdigest() != digest:
                raise AmphoraError(
                    "digest_mismatch",
                    f"Downloaded blob {digest} has SHA-256 {h.hexdigest()} ({got} bytes); the server's copy is damaged. Nothing was written; "
                    "ask the server administrator to check its blob store.",
                )
            if c is not None:
                _in_cache_folder(self.cache_dir, cached, lambda: os.replace(cache_tmp, cached), retry=False)
            elif held is not None:
                self.packs.add(digest, b"".join(held))
            os.replace(dest_tmp, dest)
            self.stat_cache.record(dest, os.stat(dest), digest)
        finally:
            _remove_quietly(cache_tmp)
            _remove_quietly(dest_tmp)
        stats.add(bytes_downloaded=got, files_downloaded=1)
        self._bar.done(digest, size)

    @staticmethod
    def _copy_verified(src, dest, digest, size, fresh=False):
        """Copies a cached blob to dest when it has exactly `size` bytes hashing to `digest`: True
        when copied, False when the cached copy is damaged, None when there is none."""
        try:
            fd = os.open(src, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            if os.fstat(fd).st_size != size:
                return False
            if size <= BATCH_BLOB_MAX:
                # Small blobs whole: one read, one hash, one write, no buffered file objects.
                data = _read_fd(fd, size)
                if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
                    return False
                (_write_new if fresh else _write_replace)(dest, data)
                return True
            tmp = temp_name(dest)
            h = hashlib.sha256()
            got = 0
            try:
                with open(tmp, "wb") as d:
                    while got <= size:
                        chunk = os.read(fd, CHUNK)
                        if not chunk:
                            break
                        h.update(chunk)
                        d.write(chunk)
                        got += len(chunk)
                if got != size or h.hexdigest() != digest:
                    _remove_quietly(tmp)
                    return False
                os.replace(tmp, dest)
                return True
            except BaseException:
                _remove_quietly(tmp)
                raise
        finally:
            os.close(fd)

    def _fetch_reference(self, logical, entry, dest, stats):
        tmp = temp_name(dest)
        try:
            got = download_reference(logical, entry, dest, tmp)
            os.replace(tmp, dest)
        finally:
            _remove_quietly(tmp)
        stats.add(bytes_downloaded=got, files_downloaded=1)


def _read_exactly(resp, n):
    """Up to n bytes (fewer only at the end of the response)."""
    parts, got = [], 0
    while got < n:
        chunk = resp.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


@contextlib.contextmanager
def _replacing(target):
    """Yields the descriptor of a new temp file next to target; renames it onto target when the
    block succeeds and removes it when anything fails, so target is never left half-written."""
    tmp = temp_name(target)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            yield fd
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        _remove_quietly(tmp)
        raise


def _create_blob(target, data):
    """Writes a blob's verified bytes at its cache path with one exclusive create, no temp file +
    rename: every read of the cache re-checks the hash, so a blob torn by a crash mid-write is
    dropped on first use. A regular file already there is left alone (a concurrent writer stored
    the same bytes); anything else there (a dangling symlink, say) is replaced, so it cannot keep
    the blob out of the cache. A write that fails after the create leaves no torn blob behind."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target, flags, 0o666)
    except FileExistsError:
        if stat.S_ISREG(os.lstat(target).st_mode):
            return
        os.remove(target)
        fd = os.open(target, flags, 0o666)
    _fill_new(fd, target, data)


def _write_new(target, data):
    """Writes bytes in hand to a new file (in a folder nobody else sees: no temp file needed)."""
    _fill_new(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), target, data)


def _fill_new(fd, target, data):
    """Writes data into fd, the file just created at target, and closes it; a failed write
    removes the file, so no torn file is left behind."""
    try:
        _write_all(fd, data)
    except BaseException:
        os.close(fd)
        _remove_quietly(target)
        raise
    os.close(fd)


def _write_replace(target, data):
    """Writes bytes in hand to a temp file next to target, then renames it onto target."""
    with _replacing(target) as fd:
        _write_all(fd, data)


def _write_all(fd, data):
    """os.write until every byte is written (a regular file may take fewer at once)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_fd(fd, size):
    """Up to size bytes from fd (fewer only at its end), and one more byte if the file is longer."""
    parts, got = [], 0
    while got <= size:
        chunk = os.read(fd, size + 1 - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def absent_from_cache(cache_dir, digests, min_per_shard=8, packed=None):
    """Of `digests`, those certainly not cached, learnt by listing their shard folders instead of
    probing each blob (same rule as the TypeScript SDK's BlobCache.absent): only shards holding at
    least `min_per_shard` of them are listed, blobs elsewhere are simply not reported. `packed`
    (digest -> bool) says which are in a pack (or held for one): those are never reported."""
    by_shard = {}
    for d in digests:
        by_shard.setdefault(os.path.dirname(cached_blob_path(cache_dir, d)), []).append(d)
    out = set()
    for shard, wanted in by_shard.items():
        if len(wanted) < min_per_shard:
            continue
        try:
            names = set(os.listdir(shard))
        except FileNotFoundError:
            names = set()
        except OSError:
            continue
        out.update(d for d in wanted if d not in names)
    if packed is not None and out:
        out = {d for d in out if not packed(d)}
    return out


def _in_cache_folder(cache_dir, cached, action, retry=True):
    """Runs `action` (which writes next to `cached`), making the cache's folder only when it is
    missing: one open(2) per file in the common case instead of makedirs' stat + mkdir before each
    (10,000 cached blobs). The cache may be deleted while a download runs: its folder is made again
    once, and a second disappearance (or one mid-write) is a clear error instead of a raw
    FileNotFoundError."""
    for attempt in range(2):
        try:
            return action()
        except FileNotFoundError as e:
            if attempt == 1 or not retry:
                raise AmphoraError(
                    "internal",
                    f"The download cache {cache_dir} was deleted while a download was writing to it ({e.strerror}); nothing was written to the "
                    "download folder. Run the download again (and avoid removing the cache during downloads).",
                ) from None
            os.makedirs(os.path.dirname(cached), exist_ok=True)


def copy_file(src, dest):
    """Copies src to dest through a temp file + rename, in the kernel where it can
    (copy_file_range(2): a reflink on file systems that have them, no user-space copy otherwise).
    Not shutil.copyfile: its same-file and fifo checks cost four stats per file."""
    with open(src, "rb") as s, _replacing(dest) as fd:
        _copy_fd(s, fd, os.fstat(s.fileno()).st_size)


def _copy_fd(src, fd, size):
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is not None:
        try:
            done = 0
            while done < size:
                n = copy_range(src.fileno(), fd, size - done)
                if n == 0:
                    break
                done += n
            if done == size:
                return
            src.seek(done)
            os.lseek(fd, done, os.SEEK_SET)
        except OSError:
            # Not supported between these file systems (EXDEV on older kernels, ENOSYS): copy in user space.
            src.seek(0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
    while True:
        chunk = src.read(CHUNK)
        if not chunk:
            break
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]


def _refuse(digest, url, why):
    return AmphoraError("internal", f"The server pointed blob {digest[:12]}… at {str(url)[:200]}, which {why}; refusing to transfer it. Check that "
                        "AMPHORA_BASE_URL is an Amphora server you trust.")


class _Slice:
    """A file object reading at most `size` bytes from the current position (one multipart part)."""

    def __init__(self, f, size):
        self._f = f
        self._left = size

    def read(self, n=-1):
        if self._left <= 0:
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._f.read(n)
        self._left -= len(data)
        return data

    def close(self):
        self._f.close()
