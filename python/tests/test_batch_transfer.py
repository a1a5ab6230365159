"""Small files travel in batch requests (POST /blobs/batch, POST /blobs/batch-get), large ones one
per request; an older server without those routes gets one request per blob; a damaged byte in a
batch download is caught. Requests are counted by a forwarding proxy in front of the real server."""
import collections
import functools
import hashlib
import http.client
import http.server
import io
import os
import re
import threading
import urllib.parse
from unittest import mock

import amphora
from amphora import Api, Artifact, progress, transfer
from amphora.settings import cached_blob_path
from amphora.transfer import BATCH_BLOB_MAX, BATCH_FILES

from .support import ServerTestCase, cached_blob, pack_files, packed_digests

BATCH_ROUTES = ("/api/v1/blobs/batch", "/api/v1/blobs/batch-get")


class _ProxyServer(http.server.ThreadingHTTPServer):
    daemon_threads = True


class Proxy:
    """Forwards every request to the real server and counts them by route. `no_batch_routes` sends
    the batch routes to a path the server does not have, so the answer is its genuine 404 for an
    unknown route (what a server from before the batch routes says). `corrupt_batch_get` flips one
    byte in the middle of every batch download."""

    def __init__(self, upstream, no_batch_routes=False, corrupt_batch_get=False):
        self.counts = collections.Counter()
        self.flipped_at = None
        lock = threading.Lock()
        origin = urllib.parse.urlsplit(upstream).netloc
        local = threading.local()
        self.upstream_conns = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                route = self.path.split("?")[0]
                with lock:
                    proxy.counts[(self.command, re.sub(r"/[0-9a-f]{64}$", "/{digest}", route))] += 1
                target = self.path
                if no_batch_routes and route in BATCH_ROUTES:
                    target = target.replace("/blobs/batch", "/blobs/route-added-later")
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}  # Host kept: upload URLs point back here
                conn = getattr(local, "conn", None)
                if conn is None:
                    conn = local.conn = http.client.HTTPConnection(origin, timeout=60)
                    with lock:
                        proxy.upstream_conns.append(conn)
                conn.request(self.command, target, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if corrupt_batch_get and route == "/api/v1/blobs/batch-get" and resp.status == 200 and data:
                    at = len(data) // 2
                    data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]
                    proxy.flipped_at = at
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length", "keep-alive", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

            def log_message(self, *args):
                pass

        self.server = _ProxyServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self, method, route):
        return self.counts[(method, "/api/v1" + route)]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        for conn in self.upstream_conns:
            conn.close()


class BatchTransferTest(ServerTestCase):
    def setUp(self):
        self._env = {k: os.environ[k] for k in ("AMPHORA_BASE_URL", "AMPHORA_CACHE_DIR")}
        self.proxies = []

    def tearDown(self):
        amphora.finish()
        os.environ.update(self._env)
        for p in self.proxies:
            p.stop()

    def through(self, cache, **options):
        """Points the client at a new proxy (and a cache of its own: a fresh client)."""
        proxy = Proxy(self.server.url, **options)
        self.proxies.append(proxy)
        os.environ["AMPHORA_BASE_URL"] = proxy.url
        os.environ["AMPHORA_CACHE_DIR"] = os.path.join(self.tmp, cache)
        return proxy

    def small_files(self, folder, n, prefix="f"):
        expected = {}
        for i in range(n):
            data = (f"{folder}/{prefix} {i}\n").encode() * (1 + i % 7)
            self.write(f"{folder}/{prefix}{i:04d}.txt", data)
            expected[f"{prefix}{i:04d}.txt"] = data
        return expected

    def log_dir(self, project, name, folder):
        with amphora.init(project=project, job_type="x") as run:
            art = Artifact(name, type="dataset")
            art.add_dir(os.path.join(self.work, folder))
            run.log_artifact(art)
        return art

    def assertFolder(self, root, expected):
        got = {}
        for dirpath, _, files in os.walk(root):
            for f in files:
                with open(os.path.join(dirpath, f), "rb") as fh:
                    got[os.path.relpath(os.path.join(dirpath, f), root)] = fh.read()
        self.assertEqual(got, expected)

    def test_many_small_files_log_and_download_in_batch_requests(self):
        self.assertEqual((BATCH_BLOB_MAX, BATCH_FILES), (1 << 20, 1000))
        expected = self.small_files("batched", 1200)
        self.write("batched/copy-of-f0001.txt", expected["f0001.txt"])
        expected["copy-of-f0001.txt"] = expected["f0001.txt"]
        big = os.urandom(BATCH_BLOB_MAX + 1)  # one byte over the limit: streamed on its own
        self.write("batched/big.bin", big)
        expected["big.bin"] = big
        proxy = self.through("cache-producer")
        art = self.log_dir("p-batch", "batched", "batched")
        self.assertEqual(art.last_transfer.files_uploaded, 1201)  # the copy shares f0001's blob
        self.assertEqual(proxy.count("POST", "/blobs/batch"), 2)  # 1,000 + 200 small blobs
        self.assertEqual(proxy.count("PUT", "/blobs/{digest}"), 1)  # the big one

        proxy = self.through("cache-consumer")
        got = Api().artifact("p-batch/batched")
        root = got.download(os.path.join(self.work, "batched-out"))
        self.assertFolder(root, expected)
        self.assertEqual(proxy.count("POST", "/blobs/batch-get"), 2)
        self.assertEqual(proxy.count("GET", "/blobs/{digest}"), 1)
        self.assertEqual((got.last_transfer.files_downloaded, got.last_transfer.bytes_downloaded),
                         (1202, sum(len(v) for k, v in expected.items() if k != "copy-of-f0001.txt")))
        # The shared cache holds every blob, so a second folder needs no request at all: the small
        # ones in one pack, the big one as a file of its own.
        cache = os.environ["AMPHORA_CACHE_DIR"]
        self.assertEqual(len(pack_files(cache)), 1)
        small_digest = hashlib.sha256(expected["f0999.txt"]).hexdigest()
        self.assertFalse(os.path.lexists(cached_blob_path(cache, small_digest)))
        self.assertEqual(cached_blob(cache, small_digest), expected["f0999.txt"])
        with open(cached_blob_path(cache, hashlib.sha256(big).hexdigest()), "rb") as f:
            self.assertEqual(f.read(), big)
        before = sum(proxy.counts.values())
        again = Api().artifact("p-batch/batched:v0")
        again.download(os.path.join(self.work, "batched-again"))
        self.assertEqual(again.last_transfer.cache_hits, 1202)
        self.assertEqual(proxy.count("POST", "/blobs/batch-get"), 2)
        self.assertLessEqual(sum(proxy.counts.values()) - before, 3)  # resolve + manifest only
        self.assertEqual([f for f in os.listdir(root) if "amphora-tmp" in f], [])

    def test_a_cold_download_checks_each_folder_once_and_never_probes_the_cache_per_blob(self):
        expected = {}
        for folder in ("a", "b", "c"):
            for name, data in self.small_files("cold/" + folder, 10).items():
                expected[folder + "/" + name] = data
        self.through("cache-cold-producer")
        self.log_dir("p-cold", "cold", "cold")
        self.through("cache-cold-consumer")
        calls = collections.Counter()
        real_parent, real_copy, real_absent = transfer.make_parent_inside, transfer.Transfer._copy_verified, transfer.absent_from_cache

        def parent(*a):
            calls["parent"] += 1
            return real_parent(*a)

        def copy(*a):
            calls["copy"] += 1
            return real_copy(*a)

        # Every shard listed, as with thousands of files.
        with mock.patch.object(transfer, "make_parent_inside", parent), \
                mock.patch.object(transfer.Transfer, "_copy_verified", staticmethod(copy)), \
                mock.patch.object(transfer, "absent_from_cache", lambda c, d, **kw: real_absent(c, d, min_per_shard=1, **kw)):
            got = Api().artifact("p-cold/cold")
            root = got.download(os.path.join(self.work, "cold-out"))
        self.assertFolder(root, expected)
        self.assertEqual(got.last_transfer.files_downloaded, 30)
        self.assertEqual(calls["parent"], 3, "one check per folder, not per file")
        self.assertEqual(calls["copy"], 0, "no open of a cache entry the shard listing says is absent")
        again = Api().artifact("p-cold/cold")
        again.download(os.path.join(self.work, "cold-out"))
        self.assertEqual(again.last_transfer.already_present, 30)

    def test_large_transfers_report_byte_progress_on_a_terminal_and_clear_the_line(self):
        class Terminal(io.StringIO):
            def isatty(self):
                return True

        big = os.urandom(20 << 20)
        self.write("progress/big.bin", big)
        every_chunk = functools.partial(progress.ByteProgress, interval=0)
        for silent in (False, True):
            env = {"AMPHORA_SILENT": "1"} if silent else {}
            self.through(f"cache-progress-{silent}")
            with mock.patch.dict(os.environ, env), mock.patch.object(progress, "ByteProgress", every_chunk), \
                    mock.patch("sys.stderr", Terminal()) as term:
                self.log_dir("p-progress", f"progress-{silent}", "progress")
                self.through(f"cache-progress-consumer-{silent}")  # the download comes from the server
                Api().artifact(f"p-progress/progress-{silent}").download(os.path.join(self.work, f"progress-out-{silent}"))
            out = term.getvalue()
            if silent:
                self.assertEqual(out, "")
                continue
            for phase in ("upload", "download"):
                seen = [float(x) for x in re.findall(rf"amphora: {phase} ([0-9.]+)/20\.0 MiB", out)]
                self.assertTrue(seen, f"{phase}: no progress in {out[-300:]!r}")
                self.assertEqual(seen[-1], 20.0, phase)
                self.assertGreater(len({x for x in seen if x < 20.0}), 1, f"{phase}: bytes move while the one file is in flight")
                self.assertIn(f"amphora: {phase} 20.0/20.0 MiB (1/1 files)", out)
            self.assertTrue(out.endswith("\r\x1b[K"), "the line is cleared at the end")

    def test_fallback_to_one_request_per_blob_when_the_server_has_no_batch_routes(self):
        expected = self.small_files("old-server", 40)
        proxy = self.through("cache-old-producer", no_batch_routes=True)
        art = self.log_dir("p-old", "old", "old-server")
        self.assertEqual(art.last_transfer.files_uploaded, 40)
        self.assertEqual(proxy.count("POST", "/blobs/batch"), 1)  # answered 404 once, then not asked again
        self.assertEqual(proxy.count("PUT", "/blobs/{digest}"), 40)
        self.assertFalse(amphora.client.get_client().http.batch_supported)

        proxy = self.through("cache-old-consumer", no_batch_routes=True)
        got = Api().artifact("p-old/old")
        root = got.download(os.path.join(self.work, "old-out"))
        self.assertFolder(root, expected)
        self.assertEqual(proxy.count("POST", "/blobs/batch-get"), 1)
        self.assertEqual(proxy.count("GET", "/blobs/{digest}"), 40)
        self.assertEqual(got.last_transfer.files_downloaded, 40)
        # Blobs fetched one by one are small too: held in memory and packed, no file each.
        cache = os.environ["AMPHORA_CACHE_DIR"]
        self.assertEqual(len(pack_files(cache)), 1)
        self.assertEqual(packed_digests(cache), {hashlib.sha256(d).hexdigest() for d in expected.values()})
        self.assertFalse(os.path.exists(os.path.join(cache, "blobs")))

    def test_a_corrupted_byte_in_a_batch_download_is_detected_and_nothing_damaged_is_kept(self):
        expected = self.small_files("fragile", 50, prefix="g")
        self.log_dir("p-fragile", "fragile", "fragile")  # straight to the server
        proxy = self.through("cache-fragile", corrupt_batch_get=True)
        root = os.path.join(self.work, "fragile-out")
        err = self.assertAmphoraError("digest_mismatch", Api().artifact("p-fragile/fragile").download, root)
        self.assertIsNotNone(proxy.flipped_at)
        self.assertEqual(proxy.count("POST", "/blobs/batch-get"), 1)
        damaged = re.search(r"blob ([0-9a-f]{64})", str(err)).group(1)
        cache = os.environ["AMPHORA_CACHE_DIR"]
        self.assertIsNone(cached_blob(cache, damaged))
        # The blobs verified before the damage were packed although the download failed.
        order = list(dict.fromkeys(hashlib.sha256(expected[n]).hexdigest() for n in sorted(expected)))
        before_damage = order[: order.index(damaged)]
        self.assertEqual(len(pack_files(cache)), 1 if before_damage else 0)
        for digest in before_damage:
            self.assertIsNotNone(cached_blob(cache, digest))
        # A new root is built aside and renamed into place only when complete: a failed download
        # leaves neither the root nor the folder it was built in.
        self.assertFalse(os.path.lexists(root))
        self.assertEqual([f for f in os.listdir(self.work) if f.startswith(".fragile-out.amphora-")], [])
        # Without the damage, the same cache and folder complete.
        os.environ["AMPHORA_BASE_URL"] = self.server.url
        got = Api().artifact("p-fragile/fragile")
        got.download(root)
        self.assertFolder(root, expected)
        # Blobs verified before the damage were kept in the cache; the rest came from the server.
        t = got.last_transfer
        self.assertEqual((t.already_present, t.cache_hits, t.files_downloaded), (0, len(before_damage), len(expected) - len(before_damage)))
