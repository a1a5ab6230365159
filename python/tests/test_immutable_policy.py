"""add_file/add_dir(policy="immutable"): the producer's cache hard-links the logged files instead of
copying them; a file changed in place anyway costs a download, never wrong bytes. Real files, a
real server."""
import errno
import hashlib
import os
import tempfile
import unittest
from unittest import mock

import amphora
from amphora import Api
from amphora.artifact import _SMALL_FILE
from amphora.settings import cached_blob_path
from amphora.statcache import StatCache

from .support import ServerTestCase, cached_blob


def digest_of(data):
    return hashlib.sha256(data).hexdigest()


class ImmutableBookkeepingTest(unittest.TestCase):
    """Which paths are immutable follows the last add of each path, like skip_cache."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="amphora-immutable-")
        self.folder = os.path.join(self.tmp.name, "d")
        os.makedirs(self.folder)
        for name in ("a.bin", "b.bin"):
            with open(os.path.join(self.folder, name), "wb") as f:
                f.write(name.encode())

    def tearDown(self):
        self.tmp.cleanup()

    def test_a_later_add_remove_or_new_file_forgets_immutable(self):
        a = amphora.Artifact("x", type="dataset")
        a.add_dir(self.folder, policy="immutable")
        self.assertEqual(a._immutable, {"a.bin", "b.bin"})
        a.add_file(os.path.join(self.folder, "a.bin"))  # default policy="mutable"
        self.assertEqual(a._immutable, {"b.bin"})
        a.add_file(os.path.join(self.folder, "a.bin"), policy="immutable")
        a.remove("a.bin")
        self.assertEqual(a._immutable, {"b.bin"})
        with a.new_file("b.bin", mode="w") as f:  # our own temp file from now on: never linked
            f.write("other")
        self.assertEqual(a._immutable, set())


class ImmutablePolicyTest(ServerTestCase):
    def write_folder(self, folder, small=4):
        """Small files and one larger than _SMALL_FILE (its cache entry is made while the server commits)."""
        files = {f"s{i}.bin": os.urandom(100) + b"%d" % i for i in range(small)}
        files["big.bin"] = os.urandom(_SMALL_FILE + 4096)
        for name, data in files.items():
            self.write(f"{folder}/{name}", data)
        return files

    def src(self, folder, name):
        return os.path.join(self.work, folder, name)

    def blob(self, data):
        return cached_blob_path(self.cache_dir, digest_of(data))

    def assert_copied(self, path, data):
        """The cache holds a copy of the file: in a pack when small (no file of its own), else a file."""
        if len(data) <= _SMALL_FILE:
            self.assertFalse(os.path.lexists(self.blob(data)), f"{path}: a small copy goes into a pack")
            self.assertEqual(cached_blob(self.cache_dir, digest_of(data)), data, path)
            return
        self.assertFalse(os.path.samefile(path, self.blob(data)), f"{path}: a copy, not a link")
        with open(self.blob(data), "rb") as f:
            self.assertEqual(f.read(), data, path)

    def log(self, run, artifact):
        """Logs; returns the commit routes posted ("versions" or "relog")."""
        http = run._client.http
        real, posted = http.post, []

        def spy(path, body=None, query=None):
            posted.append(path.rsplit("/", 1)[-1])
            return real(path, body, query)

        with mock.patch.object(http, "post", spy):
            run.log_artifact(artifact)
        return [p for p in posted if p in ("versions", "relog")]

    def test_links_the_files_relogs_by_digest_and_a_file_changed_anyway_is_fetched_again(self):
        files = self.write_folder("frozen")
        run = amphora.init(project="p-immutable", job_type="test")
        stat_cache = run._client.transfer.stat_cache
        a = amphora.Artifact("frozen", type="dataset")
        a.add_dir(os.path.join(self.work, "frozen"), policy="immutable")
        self.log(run, a)
        for name, data in files.items():
            self.assertTrue(os.path.samefile(self.src("frozen", name), self.blob(data)), f"{name}: the cache holds a link, not a copy")
        # What was flushed to disk matches each file as it is after its link (which moved its ctime).
        on_disk = StatCache(self.cache_dir)
        for name, data in files.items():
            path = self.src("frozen", name)
            self.assertEqual(on_disk.lookup(path, os.stat(path)), digest_of(data), name)

        hashed = stat_cache.hashed
        again = amphora.Artifact("frozen", type="dataset")
        again.add_dir(os.path.join(self.work, "frozen"), policy="immutable")
        self.assertEqual(self.log(run, again), ["relog"], "nothing hashed: named by digest")
        self.assertEqual(stat_cache.hashed, hashed)
        self.assertEqual(again.version, a.version)
        run.finish()

        # Changed in place after all (same size, other bytes): the cache's blobs change with them.
        changed = {}
        for name in ("s1.bin", "big.bin"):
            with open(self.src("frozen", name), "r+b") as f:
                f.seek(10)
                f.write(bytes(b ^ 0xFF for b in files[name][10:20]))
            with open(self.src("frozen", name), "rb") as f:
                changed[name] = f.read()
            self.assertEqual(len(changed[name]), len(files[name]))
            with open(self.blob(files[name]), "rb") as f:
                self.assertEqual(f.read(), changed[name])

        got = Api().artifact("p-immutable/frozen:v0")
        out = got.download(os.path.join(self.work, "frozen-out"))
        for name, data in files.items():
            with open(os.path.join(out, name), "rb") as f:
                self.assertEqual(f.read(), data, f"{name}: the version's bytes")
        self.assertEqual((got.last_transfer.files_downloaded, got.last_transfer.cache_hits), (2, len(files) - 2),
                         "the two changed blobs were fetched again, the others came from the cache")
        for name, data in changed.items():
            with open(self.src("frozen", name), "rb") as f:
                self.assertEqual(f.read(), data, f"{name}: the user's file was not written to")
            # The cache holds the good bytes again (s1.bin: fetched in a batch, so in a pack).
            self.assert_copied(self.src("frozen", name), files[name])

    def test_skip_cache_wins_mutable_copies_and_a_shared_blob_links_from_its_immutable_path(self):
        imm = self.write_folder("mixed/imm")
        skip = {"only.bin": b"kept out of the cache", "big.bin": imm["big.bin"], "s0.bin": b"shared small file"}
        plain = {"p.bin": b"plain file", "s0.bin": skip["s0.bin"], "big.bin": imm["big.bin"]}
        for name, data in skip.items():
            self.write(f"mixed/skip/{name}", data)
        for name, data in plain.items():
            self.write(f"mixed/plain/{name}", data)
        again = self.write("mixed/again.bin", b"added immutable, then again with the default policy")

        a = amphora.Artifact("mixed", type="dataset")
        # The large blob is held by a skip_cache path, then a mutable one, then an immutable one.
        a.add_dir(os.path.join(self.work, "mixed", "skip"), name="skip", policy="immutable", skip_cache=True)
        a.add_dir(os.path.join(self.work, "mixed", "plain"), name="plain")
        a.add_dir(os.path.join(self.work, "mixed", "imm"), name="imm", policy="immutable")
        a.add_file(again, policy="immutable")
        a.add_file(again)
        run = amphora.init(project="p-immutable-mixed", job_type="test")
        self.log(run, a)
        run.finish()

        for name, data in imm.items():
            self.assertTrue(os.path.samefile(self.src("mixed/imm", name), self.blob(data)), f"imm/{name} is linked")
        self.assertFalse(os.path.lexists(self.blob(skip["only.bin"])), "skip_cache=True wins over immutable")
        for folder in ("mixed/skip", "mixed/plain"):
            self.assertEqual(os.stat(self.src(folder, "big.bin")).st_nlink, 1, f"{folder}/big.bin: linked from the immutable path only")
        for rel, data in [("mixed/plain/p.bin", plain["p.bin"]), ("mixed/plain/s0.bin", plain["s0.bin"]),
                          ("mixed/again.bin", b"added immutable, then again with the default policy")]:
            self.assert_copied(os.path.join(self.work, rel), data)  # the default policy copies

    def test_where_no_link_can_be_made_the_files_are_copied_simulated_exdev(self):
        files = self.write_folder("elsewhere")
        run = amphora.init(project="p-immutable-exdev", job_type="test")
        a = amphora.Artifact("elsewhere", type="dataset")
        a.add_dir(os.path.join(self.work, "elsewhere"), policy="immutable")
        with mock.patch("os.link", side_effect=OSError(errno.EXDEV, os.strerror(errno.EXDEV))) as link:
            self.log(run, a)
        tried = {os.path.basename(c.args[0]) for c in link.call_args_list}
        self.assertEqual(tried, set(files), "a link was tried for every file")
        for name, data in files.items():
            self.assert_copied(self.src("elsewhere", name), data)
        hashed = run._client.transfer.stat_cache.hashed
        again = amphora.Artifact("elsewhere", type="dataset")
        again.add_dir(os.path.join(self.work, "elsewhere"), policy="immutable")
        self.assertEqual(self.log(run, again), ["relog"])
        self.assertEqual(run._client.transfer.stat_cache.hashed, hashed)
        run.finish()


if __name__ == "__main__":
    unittest.main()
