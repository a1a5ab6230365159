"""The producer's cache takes a just-logged file by hard link (real files in a temp dir)."""
import hashlib
import os
import shutil
import tempfile
import unittest

from amphora.settings import cached_blob_path
from amphora.transfer import Transfer


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

    def test_links_into_an_empty_cache_creating_its_folders(self):
        self.transfer.adopt(self.src, self.digest)
        target = cached_blob_path(self.cache, self.digest)
        self.assertTrue(os.path.samefile(self.src, target), "a hard link, not a copy")

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
        self.assertFalse(os.path.exists(cached_blob_path(self.cache, self.digest)))
        self.assertFalse(os.path.exists(self.cache), "no folders made for nothing")


if __name__ == "__main__":
    unittest.main()
