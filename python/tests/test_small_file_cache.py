"""A first log of small files reads each file once: the bytes just hashed are uploaded and put
into the blob cache from memory, all of them in one pack file written when the log ends (no file
per blob). Bytes over the pack limit get a file of their own (one exclusive create at the final
path, no temp file)."""
import errno
import hashlib
import os
import shutil
import tempfile
import unittest
from unittest import mock

import amphora
from amphora import Api, transfer
from amphora.hashing import read_small
from amphora.settings import cached_blob_path
from amphora.statcache import StatCache
from amphora.cache_packs import PACKED_BLOB_MAX
from amphora.transfer import Transfer

from .support import ServerTestCase, cached_blob, pack_files, packed_blob


class AdoptBytesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="amphora-adopt-bytes-")
        self.cache = os.path.join(self.tmp, "cache")  # does not exist yet: its folders are made on demand
        self.transfer = Transfer(None, self.cache)
        # Over the pack limit (no caller passes such bytes today): the file-per-blob layout.
        self.data = b"payload" * (PACKED_BLOB_MAX // 7 + 1)
        self.digest = hashlib.sha256(self.data).hexdigest()
        self.target = cached_blob_path(self.cache, self.digest)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_small_bytes_are_held_then_written_as_one_pack(self):
        small = {hashlib.sha256(b"%d" % i * 10).hexdigest(): b"%d" % i * 10 for i in range(3)}
        for digest, data in small.items():
            self.transfer.adopt_bytes(data, digest)
        self.assertFalse(os.path.exists(self.cache), "nothing written before the operation ends")
        for digest, data in small.items():
            self.assertTrue(self.transfer.packs.has(digest))
            self.assertEqual(self.transfer.packs.get(digest, len(data)), data, "readable before the pack is written")
        self.transfer.settle_cache()
        packs = pack_files(self.cache)
        self.assertEqual(len(packs), 1)
        self.assertRegex(os.path.basename(packs[0]), r"^[0-9a-f]{32}\.pack$")
        self.assertEqual(os.listdir(os.path.join(self.cache, "packs")), [os.path.basename(packs[0])], "no temp file left")
        self.assertFalse(os.path.exists(os.path.join(self.cache, "blobs")))
        for digest, data in small.items():
            self.assertEqual(cached_blob(self.cache, digest), data)
        # Held again (another log of the same bytes): already packed, so no second pack.
        for digest, data in small.items():
            self.transfer.adopt_bytes(data, digest)
        self.transfer.settle_cache()
        self.assertEqual(pack_files(self.cache), packs)

    def test_a_failed_pack_write_leaves_no_pack_and_no_temp_file(self):
        data = b"small payload"
        digest = hashlib.sha256(data).hexdigest()
        self.transfer.adopt_bytes(data, digest)

        def full(fd, chunks):
            os.write(fd, chunks[0][:5])
            raise OSError(errno.ENOSPC, "No space left on device")

        with mock.patch("amphora.cache_packs._write_chunks", full):
            self.transfer.settle_cache()
        self.assertEqual(os.listdir(os.path.join(self.cache, "packs")), [])
        self.assertIsNone(Transfer(None, self.cache).packs.get(digest, len(data)))

    def test_writes_the_final_path_with_one_exclusive_create_and_no_temp_file(self):
        with mock.patch.object(transfer.os, "replace", side_effect=AssertionError("no rename")):
            self.transfer.adopt_bytes(self.data, self.digest)
        with open(self.target, "rb") as f:
            self.assertEqual(f.read(), self.data)
        self.assertEqual(os.listdir(os.path.dirname(self.target)), [os.path.basename(self.target)])

    def test_leaves_an_existing_blob_alone(self):
        os.makedirs(os.path.dirname(self.target))
        with open(self.target, "wb") as f:
            f.write(self.data)
        before = os.stat(self.target)
        self.transfer.adopt_bytes(self.data, self.digest)
        after = os.stat(self.target)
        self.assertEqual((after.st_ino, after.st_mtime_ns), (before.st_ino, before.st_mtime_ns))

    def test_an_unusable_cache_raises_nothing(self):
        with open(self.cache, "wb"):
            pass  # a file where the cache folder should be: no folder can be made under it
        self.transfer.adopt_bytes(self.data, self.digest)
        self.transfer.adopt_bytes(b"small", hashlib.sha256(b"small").hexdigest())
        self.transfer.settle_cache()  # its pack cannot be written either
        self.assertTrue(os.path.isfile(self.cache))

    def test_replaces_a_dangling_symlink_at_the_blob_path(self):
        os.makedirs(os.path.dirname(self.target))
        os.symlink(os.path.join(self.tmp, "gone"), self.target)
        self.transfer.adopt_bytes(self.data, self.digest)
        self.assertFalse(os.path.islink(self.target))
        with open(self.target, "rb") as f:
            self.assertEqual(f.read(), self.data)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "gone")), "never written through the link")

    def test_a_failed_write_leaves_no_torn_blob(self):
        def full(fd, data):
            os.write(fd, data[:10])
            raise OSError(errno.ENOSPC, "No space left on device")

        with mock.patch.object(transfer, "_write_all", full):
            self.transfer.adopt_bytes(self.data, self.digest)
        self.assertFalse(os.path.exists(self.target))


class ReadSmallTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="amphora-read-small-")
        self.path = os.path.join(self.tmp, "f.bin")
        self.data = os.urandom(4096)
        with open(self.path, "wb") as f:
            f.write(self.data)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_reads_the_bytes_and_shows_a_file_longer_than_its_stat(self):
        self.assertEqual(read_small(self.path, 4096), self.data)
        self.assertEqual(read_small(self.path, 100), self.data[:101])
        self.assertEqual(read_small(self.path, 5000), self.data)

    def test_the_stat_cache_takes_one_stat_the_callers(self):
        cache = StatCache(os.path.join(self.tmp, "cache"))
        st = os.stat(self.path)
        with mock.patch("amphora.statcache.os.stat", side_effect=AssertionError("stat again")):
            digest, size, data, known = cache.read(self.path, st)
            self.assertEqual((digest, size, data, known), (hashlib.sha256(self.data).hexdigest(), 4096, self.data, False))
            self.assertEqual(cache.read(self.path, st), (digest, 4096, None, True))
        self.assertEqual(cache.digest(self.path), (digest, 4096))

    def test_a_file_that_grew_since_its_stat_is_hashed_whole_and_not_recorded(self):
        cache = StatCache(os.path.join(self.tmp, "cache"))
        st = os.stat(self.path)
        with open(self.path, "ab") as f:
            f.write(b"more")
        digest, size, data, known = cache.read(self.path, st)
        self.assertEqual((digest, size, data, known), (hashlib.sha256(self.data + b"more").hexdigest(), 4100, None, False))
        self.assertIsNone(cache.lookup(self.path, st))


class FirstLogTest(ServerTestCase):
    def log_dir(self, project, name, folder):
        run = amphora.init(project=project, job_type="test")
        a = amphora.Artifact(name, type="dataset")
        a.add_dir(os.path.join(self.work, folder))
        run.log_artifact(a)
        run.finish()
        return a

    def test_fills_the_cache_from_the_hashed_bytes_reading_each_file_once(self):
        files = self.write_small_files("once", 30)
        root = os.path.join(self.work, "once")
        packs_before = pack_files(self.cache_dir)
        opened = []
        real_os_open, real_open = os.open, open

        def os_open(path, *a, **kw):
            opened.append(os.fspath(path))
            return real_os_open(path, *a, **kw)

        def io_open(path, *a, **kw):
            opened.append(os.fspath(path) if not isinstance(path, int) else path)
            return real_open(path, *a, **kw)

        with mock.patch("os.open", os_open), mock.patch("builtins.open", io_open), \
                mock.patch.object(transfer, "copy_file", side_effect=AssertionError("copied from the file")), \
                mock.patch.object(transfer.os, "replace", wraps=os.replace) as replace:
            art = self.log_dir("p-once", "once", "once")
        self.assertEqual(art.last_transfer.files_uploaded, 30)
        packs = [p for p in pack_files(self.cache_dir) if p not in packs_before]
        self.assertEqual(len(packs), 1, "the log's small blobs make one pack")
        for name, data in files.items():
            self.assertEqual(opened.count(os.path.join(root, name)), 1, f"{name} was opened more than once")
            target = cached_blob_path(self.cache_dir, hashlib.sha256(data).hexdigest())
            self.assertNotIn(target, opened, "no cache file per blob")
            self.assertEqual(cached_blob(self.cache_dir, hashlib.sha256(data).hexdigest()), data)
        renamed = [os.fspath(c.args[1]) for c in replace.call_args_list]
        self.assertFalse([p for p in renamed if "blobs" in p], "no blob file")
        self.assertIn(packs[0], renamed, "a pack is renamed into place whole")
        # Logged again unchanged: answered from the stat cache, nothing read.
        opened.clear()
        with mock.patch("os.open", os_open), mock.patch("builtins.open", io_open):
            again = self.log_dir("p-once", "once", "once")
        self.assertEqual(again.version, art.version)
        self.assertFalse([p for p in opened if isinstance(p, str) and p.startswith(root + os.sep)])

    def test_an_unwritable_cache_never_fails_the_log(self):
        files = self.write_small_files("nocache", 5)
        run = amphora.init(project="p-nocache", job_type="test")
        blocked = os.path.join(self.work, "not-a-folder")
        with open(blocked, "wb"):
            pass
        t = run._client.transfer  # shared by the clients of this process: put back below
        t.cache_dir = t.stat_cache.cache_dir = blocked
        try:
            a = amphora.Artifact("nocache", type="dataset")
            a.add_dir(os.path.join(self.work, "nocache"))
            run.log_artifact(a)
            run.finish()
        finally:
            t.cache_dir = t.stat_cache.cache_dir = self.cache_dir
        self.assertEqual(a.last_transfer.files_uploaded, 5)
        out = Api().artifact("p-nocache/nocache").download(os.path.join(self.work, "nocache-out"))
        for name, data in files.items():
            with open(os.path.join(out, name), "rb") as f:
                self.assertEqual(f.read(), data)

    def test_a_cold_download_writes_one_pack_and_never_writes_through_a_link_at_a_blob_path(self):
        files = self.write_small_files("cold", 6)
        self.log_dir("p-cold", "cold", "cold")
        shutil.rmtree(self.cache_dir)
        first = hashlib.sha256(files["f000.bin"]).hexdigest()
        planted = cached_blob_path(self.cache_dir, first)
        os.makedirs(os.path.dirname(planted))
        os.symlink(os.path.join(self.work, "nowhere"), planted)
        with mock.patch.object(transfer.os, "replace", wraps=os.replace) as replace:
            got = Api().artifact("p-cold/cold")
            out = got.download(os.path.join(self.work, "cold-out"))
        self.assertEqual(got.last_transfer.files_downloaded, 6)
        renamed = [os.fspath(c.args[1]) for c in replace.call_args_list]
        blobs_dir = os.path.dirname(os.path.dirname(planted))
        self.assertFalse([p for p in renamed if p.startswith(blobs_dir + os.sep)], "no blob file")
        self.assertEqual(len(pack_files(self.cache_dir)), 1)
        self.assertEqual(os.listdir(blobs_dir), [first[:2]], "no blob file")
        for name, data in files.items():
            with open(os.path.join(out, name), "rb") as f:
                self.assertEqual(f.read(), data)
            self.assertEqual(packed_blob(self.cache_dir, hashlib.sha256(data).hexdigest()), data)
        self.assertTrue(os.path.islink(planted), "left alone: the blob is read from the pack")
        self.assertFalse(os.path.lexists(os.path.join(self.work, "nowhere")), "never written through the link")

    def test_a_torn_cached_blob_file_is_dropped_and_fetched_again_on_download(self):
        files = self.write_small_files("torn", 3)
        self.log_dir("p-torn", "torn", "torn")
        # A cache of the older layout (a file per blob), one of them torn by a crash mid-write.
        shutil.rmtree(self.cache_dir)
        for want in files.values():
            target = cached_blob_path(self.cache_dir, hashlib.sha256(want).hexdigest())
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(want)
        data = files["f001.bin"]
        target = cached_blob_path(self.cache_dir, hashlib.sha256(data).hexdigest())
        with open(target, "r+b") as f:
            f.truncate(len(data) // 2)  # a crash mid-write
        got = Api().artifact("p-torn/torn")
        out = got.download(os.path.join(self.work, "torn-out"))
        for name, want in files.items():
            with open(os.path.join(out, name), "rb") as f:
                self.assertEqual(f.read(), want)
        self.assertEqual((got.last_transfer.files_downloaded, got.last_transfer.cache_hits), (1, 2))
        self.assertFalse(os.path.exists(target), "the torn file is removed")
        self.assertEqual(cached_blob(self.cache_dir, hashlib.sha256(data).hexdigest()), data, "the cache holds the good copy again")

    def test_a_damaged_byte_in_a_pack_drops_the_pack_and_its_blobs_are_fetched_again(self):
        files = self.write_small_files("torn-pack", 3)
        shutil.rmtree(self.cache_dir, ignore_errors=True)
        self.log_dir("p-torn-pack", "torn-pack", "torn-pack")
        [pack] = pack_files(self.cache_dir)
        with open(pack, "r+b") as f:
            f.seek(70)  # inside the second blob (each is 64-66 bytes)
            byte = f.read(1)
            f.seek(70)
            f.write(bytes([byte[0] ^ 0xFF]))
        got = Api().artifact("p-torn-pack/torn-pack")
        out = got.download(os.path.join(self.work, "torn-pack-out"))
        for name, want in files.items():
            with open(os.path.join(out, name), "rb") as f:
                self.assertEqual(f.read(), want)
        # The blob before the damaged one came from the pack; finding the damage dropped the pack.
        t = got.last_transfer
        self.assertEqual((t.cache_hits, t.files_downloaded), (1, 2))
        self.assertFalse(os.path.exists(pack), "the damaged pack is deleted")
        [fresh] = pack_files(self.cache_dir)
        for want in files.values():
            self.assertEqual(packed_blob(self.cache_dir, hashlib.sha256(want).hexdigest()) is not None,
                             want != files["f000.bin"], "what was fetched again is packed again")

if __name__ == "__main__":
    unittest.main()
