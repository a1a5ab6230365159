"""What the client accepts from a server (amphora/received.py), the cache's refusal of any key that is
not a digest, and the stat cache's ctime check (a byte flipped with the mtime set back is seen by
both download and log)."""
import hashlib
import os
import shutil
import tempfile
import unittest

import amphora
from amphora import Api, Artifact, AmphoraError
from amphora.manifest import artifact_digest
from amphora.received import check_received_manifest, check_received_version, check_transfer_url, storage_origins_from
from amphora.settings import cached_blob_path
from amphora.statcache import StatCache
from amphora.transfer import Transfer

from .support import ServerTestCase


def sha(b):
    return hashlib.sha256(b).hexdigest()


def flip_first_byte_keeping_mtime(path):
    st = os.stat(path)
    with open(path, "r+b") as f:
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 1]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)


class ReceivedTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="amphora-received-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_the_cache_refuses_every_key_that_is_not_a_digest(self):
        for bad in ["../../victim/important.txt", "A" * 64, sha(b"x")[:63], sha(b"x") + "/..", "", None, 5]:
            with self.assertRaises(AmphoraError) as ctx:
                cached_blob_path(self.tmp, bad)
            self.assertIn("64 lowercase hex", ctx.exception.message)
        self.assertTrue(cached_blob_path(self.tmp, sha(b"x")).endswith(os.path.join("sha256", sha(b"x")[:2], sha(b"x"))))

    def test_a_hostile_digest_in_a_download_never_reaches_the_file_it_names(self):
        victim = os.path.join(self.tmp, "victim")
        os.makedirs(victim)
        with open(os.path.join(victim, "important.txt"), "wb") as f:
            f.write(b"precious")
        os.makedirs(os.path.join(self.tmp, "cache", "blobs", "sha256"))  # a cache that has been used
        transfer = Transfer(http=None, cache_dir=os.path.join(self.tmp, "cache"))
        manifest = {"a.txt": {"digest": "../../victim/important.txt", "size": 8}}
        with self.assertRaises(AmphoraError):
            transfer.download(manifest, os.path.join(self.tmp, "root"))
        with open(os.path.join(victim, "important.txt"), "rb") as f:
            self.assertEqual(f.read(), b"precious")

    def test_manifest_checks(self):
        good = {"a": {"digest": sha(b"a"), "size": 1}}
        self.assertEqual(check_received_manifest(good, "x", digest=artifact_digest(good), file_count=1, size=1), 1)
        refs = {
            "etag": {"digest": "9b2cf535f27731c974343645a3985328", "size": 3, "ref": "https://h/x", "extra": {"etag": '"9b"'}},
            "uri": {"digest": "https://h/y", "size": 0, "ref": "https://h/y", "extra": {"checksum": False}},
        }
        self.assertEqual(check_received_manifest(refs, "x"), 3)
        cases = [
            ({"a": {"digest": "../../v", "size": 1}}, "64 lowercase hex"),
            ({"a": {"digest": sha(b"a").upper(), "size": 1}}, "64 lowercase hex"),
            ({"../a": {"digest": sha(b"a"), "size": 1}}, '".."'),
            ({"a": {"digest": sha(b"a"), "size": -1}}, "invalid size"),
            ({"a": {"digest": sha(b"a"), "size": 1.5}}, "invalid size"),
            ({"a": {"digest": sha(b"a"), "size": 2**53}}, "invalid size"),
            ({"a": {"digest": sha(b"a"), "size": True}}, "invalid size"),
            ({"a": {"digest": sha(b"a"), "size": 1}, "a/b": {"digest": sha(b"a"), "size": 1}}, "both a file and a folder"),
            ({"a": {"digest": sha(b"a"), "size": 1}, "b": {"digest": sha(b"a"), "size": 2}}, "two sizes"),
            ({"a": {"digest": "x\n", "size": 1, "ref": "https://h/a"}}, "non-printable"),
            ({"a": {"digest": "x" * 2049, "size": 1, "ref": "https://h/a"}}, "over-long"),
            ({"a": {"digest": sha(b"a"), "size": 1, "ref": "ftp://h/a"}}, "only http(s)://"),
            ({"a": "not an entry"}, "not an object"),
        ]
        for manifest, words in cases:
            with self.assertRaises(AmphoraError, msg=repr(manifest)) as ctx:
                check_received_manifest(manifest, "p/x:v0")
            self.assertIn(words, ctx.exception.message)
            self.assertIn("nothing was written", ctx.exception.message)
        for kwargs, words in [({"digest": sha(b"other")}, "artifact digest"), ({"file_count": 2}, "2"), ({"size": 5}, "version says 5")]:
            with self.assertRaises(AmphoraError) as ctx:
                check_received_manifest(good, "p/x:v0", **kwargs)
            self.assertIn(words, ctx.exception.message)

    def test_version_checks(self):
        v = {"id": "1", "entity": "e", "project": "p", "name": "n", "type": "t", "version": "v3", "digest": sha(b"m"),
             "size": 1, "fileCount": 1, "aliases": ["latest", "best"], "metadata": {}}
        self.assertIs(check_received_version(v), v)
        for field, value in [("name", "../../x"), ("name", ".."), ("project", "a/b"), ("version", "v0/../../x"),
                             ("version", "3"), ("digest", "../x"), ("size", -1), ("fileCount", "1"), ("aliases", ["../x"]),
                             ("type", "")]:
            with self.assertRaises(AmphoraError, msg=field) as ctx:
                check_received_version(dict(v, **{field: value}))
            self.assertIn("API contract", ctx.exception.message)

    def test_transfer_urls_stay_on_the_server_or_allowed_storage(self):
        base = "http://127.0.0.1:7411"
        self.assertEqual(check_transfer_url("/api/v1/blobs/" + sha(b"a"), base), base + "/api/v1/blobs/" + sha(b"a"))
        self.assertEqual(check_transfer_url(base + "/x?y=1", base), base + "/x?y=1")
        allowed = storage_origins_from({"AMPHORA_STORAGE_ORIGINS": "https://bucket.example.com, http://127.0.0.1:9000/"})
        self.assertEqual(check_transfer_url("https://bucket.example.com/k?X-Amz=1", base, allowed), "https://bucket.example.com/k?X-Amz=1")
        self.assertEqual(check_transfer_url("https://bucket.example.com:443/k", base, allowed), "https://bucket.example.com:443/k")
        for url, words in [("http://127.0.0.1:7412/x", "neither the server"), ("http://localhost:7411/x", "neither the server"),
                           ("https://127.0.0.1:7411/x", "neither the server"), ("file:///etc/passwd", "file: instead"),
                           ("http://u:p@127.0.0.1:7411/x", "credentials"), ("https://evil.example.com/k", "neither the server")]:
            with self.assertRaises(AmphoraError, msg=url) as ctx:
                check_transfer_url(url, base, allowed)
            self.assertIn(words, ctx.exception.message)
            self.assertIn("AMPHORA_STORAGE_ORIGINS", ctx.exception.message)
        with self.assertRaises(AmphoraError):
            storage_origins_from({"AMPHORA_STORAGE_ORIGINS": "not a url"})

    def test_the_stat_cache_sees_a_byte_flipped_with_the_mtime_set_back(self):
        path = os.path.join(self.tmp, "f.bin")
        with open(path, "wb") as f:
            f.write(b"hello world")
        cache = StatCache(os.path.join(self.tmp, "cache"))
        self.assertEqual(cache.digest(path), (sha(b"hello world"), 11))
        self.assertEqual(cache.hashed, 1)
        self.assertEqual(cache.digest(path)[0], sha(b"hello world"))
        self.assertEqual(cache.hashed, 1, "unchanged: answered from the cache")
        flip_first_byte_keeping_mtime(path)
        self.assertIsNone(cache.lookup(path, os.stat(path)))
        with open(path, "rb") as f:
            self.assertEqual(cache.digest(path)[0], sha(f.read()))
        self.assertEqual(cache.hashed, 2)


class StatCacheCtimeEndToEndTest(ServerTestCase):
    def tearDown(self):
        amphora.finish()

    def test_log_and_download_see_a_byte_flipped_with_the_mtime_set_back(self):
        self.write("ctime/data.bin", b"A" * 4096)
        with amphora.init(project="ctime", job_type="x") as run:
            first = Artifact("flip", type="dataset")
            first.add_dir(os.path.join(self.work, "ctime"))
            run.log_artifact(first)
        flip_first_byte_keeping_mtime(os.path.join(self.work, "ctime", "data.bin"))
        with amphora.init(project="ctime", job_type="x") as run:
            second = Artifact("flip", type="dataset")
            second.add_dir(os.path.join(self.work, "ctime"))
            run.log_artifact(second)
        self.assertNotEqual(second.digest, first.digest, "put: the changed byte makes a new version")
        self.assertEqual(second.version, "v1")

        got = Api().artifact("ctime/flip:v0")
        root = got.download(os.path.join(self.tmp, "ctime-root"))
        target = os.path.join(root, "data.bin")
        flip_first_byte_keeping_mtime(target)
        got.download(root)
        with open(target, "rb") as f:
            self.assertEqual(f.read(), b"A" * 4096, "get: the damaged file is restored, not reported unchanged")

    def test_relogging_an_unchanged_folder_still_hashes_nothing(self):
        self.write("same/a.txt", b"a" * 100)
        self.write("same/b.txt", b"b" * 100)
        client = amphora.client.get_client()
        with amphora.init(project="ctime", job_type="x") as run:
            art = Artifact("same", type="dataset")
            art.add_dir(os.path.join(self.work, "same"))
            run.log_artifact(art)
        hashed = client.transfer.stat_cache.hashed
        with amphora.init(project="ctime", job_type="x") as run:
            again = Artifact("same", type="dataset")
            again.add_dir(os.path.join(self.work, "same"))
            run.log_artifact(again)
        self.assertEqual(client.transfer.stat_cache.hashed, hashed, "the cache's hard link must not cost a re-hash")
        self.assertEqual(again.version, art.version)


if __name__ == "__main__":
    unittest.main()
