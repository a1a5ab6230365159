"""The producer's cache takes a just-logged file by hard link, or a copy: into a pack when it is
small, a file of its own when large (real files in a temp dir)."""
import errno
import hashlib
import os
import shutil
import tempfile
import threading
import unittest
from unittest import mock

from amphora.settings import cached_blob_path
from amphora.errors import AmphoraError
from amphora.transfer import BATCH_BLOB_MAX, Transfer, _in_cache_folder

from .support import ServerTestCase, cached_blob, pack_files


class AdoptTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="amphora-adopt-")
        self.cache = os.path.join(self.tmp, "cache")  # does not exist yet: adopt makes its folders
        self.transfer = Transfer(None, self.cache)
        self.src = os.path.join(self.tmp, "data.bin")
        with open(self.src, "wb") as f:
            f.write(b"payload")
        self.digest = hashlib.sha256(b"payload").hexdigest()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_links_a_read_only_file_into_an_empty_cache_creating_its_folders(self):
        os.chmod(self.src, 0o444)
        self.transfer.adopt(self.src, self.digest)
        target = cached_blob_path(self.cache, self.digest)
        self.assertTrue(os.path.samefile(self.src, target), "a hard link, not a copy")

    def test_a_small_writable_file_goes_into_a_pack_written_at_the_end_of_the_operation(self):
        self.assertFalse(self.transfer.adopt(self.src, self.digest))
        target = cached_blob_path(self.cache, self.digest)
        self.assertFalse(os.path.lexists(target), "no file of its own")
        self.assertEqual(pack_files(self.cache), [], "held until the operation ends")
        self.assertEqual(self.transfer.packs.get(self.digest, 7), b"payload")
        self.transfer.settle_cache()
        self.assertEqual(len(pack_files(self.cache)), 1)
        self.assertEqual(cached_blob(self.cache, self.digest), b"payload")
        with open(self.src, "ab") as f:
            f.write(b" and more")  # the pack is a copy: appending to the file changes nothing cached
        self.assertEqual(Transfer(None, self.cache).packs.get(self.digest, 7), b"payload")

    def test_a_small_file_changed_since_it_was_hashed_is_not_packed(self):
        with open(self.src, "wb") as f:
            f.write(b"PAYLOAD")  # same size, other bytes: the digest no longer matches
        self.transfer.adopt(self.src, self.digest)
        self.transfer.settle_cache()
        self.assertEqual(pack_files(self.cache), [])
        self.assertFalse(os.path.lexists(cached_blob_path(self.cache, self.digest)))

    def test_copies_a_large_writable_file_into_an_empty_cache_creating_its_folders(self):
        data = os.urandom(BATCH_BLOB_MAX + 1)
        with open(self.src, "wb") as f:
            f.write(data)
        digest = hashlib.sha256(data).hexdigest()
        self.transfer.adopt(self.src, digest)
        target = cached_blob_path(self.cache, digest)
        self.assertFalse(os.path.samefile(self.src, target), "a writable file is never linked into the cache")
        with open(target, "rb") as f:
            self.assertEqual(f.read(), data)
        self.transfer.settle_cache()
        self.assertEqual(pack_files(self.cache), [], "a large blob is never packed")

    def test_leaves_an_existing_blob_alone(self):
        target = cached_blob_path(self.cache, self.digest)
        os.makedirs(os.path.dirname(target))
        with open(target, "wb") as f:
            f.write(b"payload")
        before = os.stat(target).st_ino
        self.transfer.adopt(self.src, self.digest)
        self.assertEqual(os.stat(target).st_ino, before)

    def test_a_source_that_vanished_caches_nothing_and_raises_nothing(self):
        os.remove(self.src)
        self.transfer.adopt(self.src, self.digest)
        self.transfer.settle_cache()
        self.assertFalse(os.path.exists(cached_blob_path(self.cache, self.digest)))
        self.assertFalse(os.path.exists(self.cache), "no folders made for nothing")


class LinkImmutableTest(unittest.TestCase):
    """policy="immutable": the cache takes a hard link to a writable file, or a copy where no link can be made."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="amphora-link-")
        self.cache = os.path.join(self.tmp, "cache")  # does not exist yet: the link makes its folders
        self.transfer = Transfer(None, self.cache)
        self.data = b"payload" * 100
        self.src = os.path.join(self.tmp, "data.bin")
        with open(self.src, "wb") as f:
            f.write(self.data)
        self.digest = hashlib.sha256(self.data).hexdigest()
        self.target = cached_blob_path(self.cache, self.digest)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def assert_copied(self):
        """The bytes went into the pending pack (a small blob), not a file of their own; then
        starts over with an empty cache."""
        self.assertFalse(os.path.lexists(self.target), "a copy in a pack, no file")
        self.transfer.settle_cache()
        self.assertEqual(cached_blob(self.cache, self.digest), self.data)
        shutil.rmtree(self.cache)
        self.transfer = Transfer(None, self.cache)

    def failing_link(self, code):
        return mock.patch("os.link", side_effect=OSError(code, os.strerror(code)))

    def test_adopt_with_link_links_a_writable_file(self):
        self.assertTrue(os.stat(self.src).st_mode & 0o200)
        self.assertTrue(self.transfer.adopt(self.src, self.digest, link=True))
        self.assertTrue(os.path.samefile(self.src, self.target))
        self.assertEqual(os.stat(self.src).st_mode & 0o777, os.stat(self.target).st_mode & 0o777)

    def test_adopt_with_link_copies_on_simulated_exdev_eperm_and_emlink(self):
        for code in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            with self.subTest(errno=errno.errorcode[code]):
                with self.failing_link(code) as link:
                    self.assertFalse(self.transfer.adopt(self.src, self.digest, link=True))
                self.assertEqual(link.call_count, 1, "a link was tried first")
                self.assert_copied()

    def test_adopt_with_link_copies_a_large_file_as_a_file_where_no_link_can_be_made(self):
        self.data = os.urandom(BATCH_BLOB_MAX + 1)
        with open(self.src, "wb") as f:
            f.write(self.data)
        self.digest = hashlib.sha256(self.data).hexdigest()
        target = cached_blob_path(self.cache, self.digest)
        with self.failing_link(errno.EXDEV):
            self.assertFalse(self.transfer.adopt(self.src, self.digest, link=True))
        self.assertFalse(os.path.samefile(self.src, target), "a copy, not a link")
        with open(target, "rb") as f:
            self.assertEqual(f.read(), self.data)

    def test_adopt_with_link_leaves_an_existing_blob_alone(self):
        os.makedirs(os.path.dirname(self.target))
        with open(self.target, "wb") as f:
            f.write(self.data)
        before = os.stat(self.target)
        self.assertFalse(self.transfer.adopt(self.src, self.digest, link=True))
        after = os.stat(self.target)
        self.assertEqual((after.st_ino, after.st_mtime_ns), (before.st_ino, before.st_mtime_ns))
        self.assertEqual(os.stat(self.src).st_nlink, 1)

    def test_link_or_adopt_bytes_links_a_small_writable_file(self):
        with mock.patch.object(Transfer, "adopt_bytes", side_effect=AssertionError("bytes written")):
            self.assertTrue(self.transfer.link_or_adopt_bytes(self.src, self.data, self.digest))
        self.assertTrue(os.path.samefile(self.src, self.target))

    def test_link_or_adopt_bytes_writes_the_bytes_on_simulated_exdev_and_eperm(self):
        for code in (errno.EXDEV, errno.EPERM):
            with self.subTest(errno=errno.errorcode[code]):
                with self.failing_link(code), \
                        mock.patch("amphora.transfer.copy_file", side_effect=AssertionError("the file read again")):
                    self.assertFalse(self.transfer.link_or_adopt_bytes(self.src, self.data, self.digest))
                self.assert_copied()

    def test_link_or_adopt_bytes_leaves_an_existing_blob_alone(self):
        os.makedirs(os.path.dirname(self.target))
        with open(self.target, "wb") as f:
            f.write(self.data)
        before = os.stat(self.target)
        self.assertFalse(self.transfer.link_or_adopt_bytes(self.src, self.data, self.digest))
        after = os.stat(self.target)
        self.assertEqual((after.st_ino, after.st_mtime_ns), (before.st_ino, before.st_mtime_ns))

    def test_link_or_adopt_bytes_of_a_vanished_file_writes_the_bytes_hashed(self):
        os.remove(self.src)
        self.assertFalse(self.transfer.link_or_adopt_bytes(self.src, self.data, self.digest))
        self.assert_copied()

    def test_link_or_adopt_bytes_into_an_unusable_cache_raises_nothing(self):
        with open(self.cache, "wb"):
            pass  # a file where the cache folder should be
        self.assertFalse(self.transfer.link_or_adopt_bytes(self.src, self.data, self.digest))
        self.transfer.settle_cache()  # the pack cannot be written either: nothing raised
        self.assertTrue(os.path.isfile(self.cache))


class InCacheFolderTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="amphora-cache-folder-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, path, data):
        def action():
            with open(path, "xb") as f:
                f.write(data)
        return action

    def test_makes_a_missing_folder_and_writes_into_an_existing_one(self):
        first = os.path.join(self.tmp, "blobs", "sha256", "ab", "one")
        _in_cache_folder(self.tmp, first, self.write(first, b"1"))
        second = os.path.join(os.path.dirname(first), "two")
        _in_cache_folder(self.tmp, second, self.write(second, b"2"))
        self.assertEqual(sorted(os.listdir(os.path.dirname(first))), ["one", "two"])
        with open(first, "rb") as f:
            self.assertEqual(f.read(), b"1")

    def test_a_cache_that_keeps_disappearing_is_a_clear_error(self):
        target = os.path.join(self.tmp, "blobs", "sha256", "ab", "one")

        def vanishing():
            shutil.rmtree(os.path.join(self.tmp, "blobs"), ignore_errors=True)
            raise FileNotFoundError(2, "No such file or directory")

        with self.assertRaises(AmphoraError) as cm:
            _in_cache_folder(self.tmp, target, vanishing)
        self.assertIn("was deleted while a download was writing", str(cm.exception))


if __name__ == "__main__":
    unittest.main()


class AdoptWhileCommittingTest(ServerTestCase):
    """A large file is copied into the producer's cache while the commit request is in flight."""

    def test_large_files_are_copied_into_the_cache_while_the_server_commits(self):
        import amphora

        big = os.urandom(BATCH_BLOB_MAX + 4096)
        small = b"small file"
        events = []
        copied = threading.Event()
        real_adopt = Transfer.adopt

        def adopt(transfer, local, digest, link=False):
            events.append(("adopt", os.path.basename(local)))
            real_adopt(transfer, local, digest, link)
            if os.path.basename(local) == "big.bin":
                copied.set()

        run = amphora.init(project="adopt", job_type="test")
        http = run._client.http
        real_post = http.post

        def post(path, body=None, **kw):
            if path.endswith("/versions"):
                # The old order (commit, then copy) never sets the event: the wait times out.
                events.append(("commit", copied.wait(10)))
            return real_post(path, body, **kw)

        a = amphora.Artifact("weights", type="model")
        a.add_file(self.write("big.bin", big))
        a.add_file(self.write("small.txt", small))
        with mock.patch.object(Transfer, "adopt", adopt), mock.patch.object(http, "post", post):
            run.log_artifact(a)
        run.finish()
        self.assertIn(("commit", True), events, f"the large copy finished while the commit waited: {events}")
        self.assertLess(events.index(("adopt", "big.bin")), events.index(("commit", True)))
        with open(cached_blob_path(self.cache_dir, hashlib.sha256(big).hexdigest()), "rb") as f:
            self.assertEqual(f.read(), big)
        small_digest = hashlib.sha256(small).hexdigest()
        self.assertFalse(os.path.lexists(cached_blob_path(self.cache_dir, small_digest)), "a small blob goes into a pack")
        self.assertEqual(cached_blob(self.cache_dir, small_digest), small)
        # Logging again is answered from the stat cache: the copy left the files' state known.
        b = amphora.Artifact("weights", type="model")
        b.add_file(os.path.join(self.work, "big.bin"))
        b.add_file(os.path.join(self.work, "small.txt"))
        run2 = amphora.init(project="adopt", job_type="test")
        run2.log_artifact(b)
        run2.finish()
        self.assertEqual(b.version, a.version)
