"""download(skip_cache=True) (W&B's parameter): fetched files are verified and written to the root
only, nothing new lands in the cache (<cache>/blobs or a pack); blobs the cache already holds are
still used. Against a
real server, through the counting proxy of test_batch_transfer (which can also play a server
without the batch routes, or damage a batch download)."""
import hashlib
import os

import amphora
from amphora import Api, Artifact
from amphora.settings import cached_blob_path
from amphora.transfer import BATCH_BLOB_MAX

from . import test_batch_transfer
from .support import ServerTestCase, packed_digests


class SkipCacheDownloadTest(ServerTestCase):
    def setUp(self):
        self._env = {k: os.environ[k] for k in ("AMPHORA_BASE_URL", "AMPHORA_CACHE_DIR")}
        self.proxies = []

    def tearDown(self):
        amphora.finish()
        os.environ.update(self._env)
        for p in self.proxies:
            p.stop()

    def through(self, cache, **options):
        """Points the client at a new proxy and a cache of its own (a fresh client); returns the proxy."""
        proxy = test_batch_transfer.Proxy(self.server.url, **options)
        self.proxies.append(proxy)
        os.environ["AMPHORA_BASE_URL"] = proxy.url
        os.environ["AMPHORA_CACHE_DIR"] = os.path.join(self.tmp, cache)
        return proxy

    def log_files(self, project, name, files):
        """Logs {path: bytes} as a dataset from a producer with a cache of its own."""
        self.through(f"cache-producer-{project}")
        folder = os.path.join(self.work, "src-" + project)
        for rel, data in files.items():
            self.write(os.path.join(folder, rel), data)
        with amphora.init(project=project, job_type="x") as run:
            art = Artifact(name, type="dataset")
            art.add_dir(folder)
            run.log_artifact(art)

    @staticmethod
    def sample():
        """Small files (batched) and large ones (streamed, one byte over the batch limit), each
        content at two paths."""
        small, big = os.urandom(300), os.urandom(BATCH_BLOB_MAX + 1)
        return {"a.txt": small, "sub/a-copy.txt": small, "other.txt": os.urandom(40),
                "big.bin": big, "sub/big-copy.bin": big}

    def blobs(self):
        """Every blob the current client's cache holds: each file under <cache>/blobs, and
        "packed/<digest>" for each blob in a pack."""
        cache = os.environ["AMPHORA_CACHE_DIR"]
        top = os.path.join(cache, "blobs")
        files = [os.path.relpath(os.path.join(d, f), top) for d, _, fs in os.walk(top) for f in fs]
        return sorted(files + ["packed/" + d for d in packed_digests(cache)])

    def assertFolder(self, root, expected):
        got = {}
        for dirpath, _, names in os.walk(root):
            for n in names:
                full = os.path.join(dirpath, n)
                with open(full, "rb") as f:
                    got[os.path.relpath(full, root).replace(os.sep, "/")] = f.read()
        self.assertEqual(got, expected)

    def assertNoLeftovers(self):
        """No temp file or staging folder anywhere under the work folder."""
        left = [os.path.join(d, n) for d, dirs, fs in os.walk(self.work) for n in dirs + fs if ".amphora-" in n]
        self.assertEqual(left, [])

    def test_a_new_root_gets_every_file_and_the_cache_no_blob(self):
        files = self.sample()
        self.log_files("p-new", "fresh", files)
        proxy = self.through("cache-new")
        art = Api().artifact("p-new/fresh:v0")
        root = os.path.join(self.work, "new-out")
        self.assertEqual(art.download(root, skip_cache=True), root)
        self.assertFolder(root, files)
        self.assertEqual(self.blobs(), [])
        self.assertNoLeftovers()
        t = art.last_transfer
        self.assertEqual((t.files_downloaded, t.cache_hits, t.already_present), (5, 0, 0))
        # Small blobs in one batch (a shared blob once, written to both paths); the large blob
        # has no cache copy to be copied from, so each of its two paths fetches it.
        self.assertEqual(proxy.count("POST", "/blobs/batch-get"), 1)
        self.assertEqual(proxy.count("GET", "/blobs/{digest}"), 2)
        self.assertEqual(t.bytes_downloaded, 300 + 40 + 2 * (BATCH_BLOB_MAX + 1))
        # The stat cache still learnt the files: the same root again fetches nothing.
        again = Api().artifact("p-new/fresh:v0")
        again.download(root, skip_cache=True)
        self.assertEqual((again.last_transfer.already_present, again.last_transfer.files_downloaded), (5, 0))
        # Without skip_cache the same client caches as before: the large blob as a file, the two
        # small ones in a pack.
        plain = Api().artifact("p-new/fresh:v0")
        plain.download(os.path.join(self.work, "new-out-cached"))
        self.assertEqual(len(self.blobs()), 3)
        self.assertEqual(len([b for b in self.blobs() if b.startswith("packed/")]), 2)

    def test_an_existing_root_is_updated_file_by_file_and_the_cache_gets_no_blob(self):
        files = self.sample()
        self.log_files("p-existing", "existing", files)
        proxy = self.through("cache-existing")
        root = os.path.join(self.work, "existing-out")
        self.write(os.path.join(root, "a.txt"), b"stale bytes")
        self.write(os.path.join(root, "sub", "big-copy.bin"), b"stale too")
        self.write(os.path.join(root, "mine.txt"), b"left alone")
        art = Api().artifact("p-existing/existing:v0")
        art.download(root, skip_cache=True)
        self.assertFolder(root, {**files, "mine.txt": b"left alone"})
        self.assertEqual(self.blobs(), [])
        self.assertNoLeftovers()
        self.assertEqual(art.last_transfer.files_downloaded, 5)
        self.assertEqual(proxy.count("POST", "/blobs/batch-get"), 1)
        self.assertEqual(proxy.count("GET", "/blobs/{digest}"), 2)
        # One file of the artifact (ArtifactEntry.download has the parameter too).
        os.remove(os.path.join(root, "big.bin"))
        local = art.get_entry("big.bin").download(root, skip_cache=True)
        with open(local, "rb") as f:
            self.assertEqual(f.read(), files["big.bin"])
        self.assertEqual(self.blobs(), [])

    def test_blobs_already_cached_are_used_verified_and_nothing_is_added(self):
        files = self.sample()
        self.log_files("p-hit", "hit", files)
        self.through("cache-hit")
        cache = os.environ["AMPHORA_CACHE_DIR"]
        small, big, other = (hashlib.sha256(files[p]).hexdigest() for p in ("a.txt", "big.bin", "other.txt"))
        for digest, data in ((small, files["a.txt"]), (big, files["big.bin"])):
            os.makedirs(os.path.dirname(cached_blob_path(cache, digest)), exist_ok=True)
            with open(cached_blob_path(cache, digest), "wb") as f:
                f.write(data)
        # A damaged cached blob of the right size is not used: its file comes from the server.
        os.makedirs(os.path.dirname(cached_blob_path(cache, other)), exist_ok=True)
        with open(cached_blob_path(cache, other), "wb") as f:
            f.write(b"x" * len(files["other.txt"]))
        cached_before = sorted(os.path.relpath(cached_blob_path(cache, d), os.path.join(cache, "blobs")) for d in (small, big))
        art = Api().artifact("p-hit/hit:v0")
        root = os.path.join(self.work, "hit-out")
        art.download(root, skip_cache=True)
        self.assertFolder(root, files)
        t = art.last_transfer
        self.assertEqual((t.cache_hits, t.files_downloaded, t.bytes_downloaded), (4, 1, len(files["other.txt"])))
        self.assertEqual(self.blobs(), cached_before, "the damaged blob is dropped, nothing is added")
        self.assertNoLeftovers()

    def test_a_server_without_the_batch_routes_gets_one_request_per_file(self):
        files = self.sample()
        self.log_files("p-old", "old", files)
        for fresh in (True, False):
            with self.subTest(fresh=fresh):
                proxy = self.through(f"cache-old-{fresh}", no_batch_routes=True)
                root = os.path.join(self.work, f"old-out-{fresh}")
                if not fresh:
                    self.write(os.path.join(root, "mine.txt"), b"left alone")
                art = Api().artifact("p-old/old:v0")
                art.download(root, skip_cache=True)
                self.assertFolder(root, files if fresh else {**files, "mine.txt": b"left alone"})
                self.assertEqual(self.blobs(), [])
                self.assertNoLeftovers()
                self.assertEqual(proxy.count("POST", "/blobs/batch-get"), 1)  # answered 404
                self.assertEqual(proxy.count("GET", "/blobs/{digest}"), 5)  # each path, shared blobs again
                self.assertEqual(art.last_transfer.files_downloaded, 5)

    def test_damaged_batch_bytes_leave_no_file_no_temp_file_and_no_blob(self):
        files = {f"f{i}.txt": os.urandom(100 + i) for i in range(20)}
        self.log_files("p-damaged", "damaged", files)
        for fresh in (True, False):
            with self.subTest(fresh=fresh):
                proxy = self.through(f"cache-damaged-{fresh}", corrupt_batch_get=True)
                root = os.path.join(self.work, f"damaged-out-{fresh}")
                if not fresh:
                    self.write(os.path.join(root, "mine.txt"), b"left alone")
                self.assertAmphoraError("digest_mismatch", Api().artifact("p-damaged/damaged:v0").download, root, skip_cache=True)
                self.assertIsNotNone(proxy.flipped_at)
                self.assertEqual(self.blobs(), [])
                self.assertNoLeftovers()
                if fresh:
                    self.assertFalse(os.path.lexists(root))
                else:
                    # Blobs before the damaged one may be written; the damaged one and those after are not.
                    got = set(os.listdir(root)) - {"mine.txt"}
                    self.assertLess(len(got), len(files))
                    for n in got:
                        with open(os.path.join(root, n), "rb") as f:
                            self.assertEqual(f.read(), files[n])
