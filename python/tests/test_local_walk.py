"""Logging a folder reads each folder's listing for entry types: plain files cost no realpath (an
lstat per path component), only symbolic links are resolved; a copy into the cache runs in the kernel."""
import os
import tempfile
import unittest
from unittest import mock

from amphora import Artifact, transfer
from amphora.errors import AmphoraError


class LocalWalkTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = os.path.join(self.tmp.name, "data")
        for d in ("a", "b"):
            os.makedirs(os.path.join(self.root, d))
            for i in range(20):
                with open(os.path.join(self.root, d, f"f{i}.txt"), "w") as f:
                    f.write(f"{d} {i}")

    def tearDown(self):
        self.tmp.cleanup()

    def test_plain_files_are_not_resolved_one_by_one(self):
        real = os.path.realpath
        calls = []

        def counting(p, *a, **k):
            calls.append(p)
            return real(p, *a, **k)

        with mock.patch("os.path.realpath", counting):
            art = Artifact("walk", type="dataset")
            art.add_dir(self.root)
        self.assertLessEqual(len(calls), 4, f"one realpath per folder, none per file: {calls!r}")
        self.assertEqual(sorted(art.manifest)[:2], ["a/f0.txt", "a/f1.txt"])
        self.assertEqual(len(art.manifest), 40)

    def test_links_are_still_resolved_and_one_leaving_the_folder_is_refused(self):
        outside = os.path.join(self.tmp.name, "secret.txt")
        with open(outside, "w") as f:
            f.write("secret")
        os.symlink(os.path.join(self.root, "a", "f1.txt"), os.path.join(self.root, "b", "inside-link.txt"))
        Artifact("walk-ok", type="dataset").add_dir(self.root)  # a link inside the folder is fine
        os.symlink(outside, os.path.join(self.root, "b", "leak.txt"))
        with self.assertRaises(AmphoraError) as cm:
            Artifact("walk-leak", type="dataset").add_dir(self.root)
        self.assertIn("outside", str(cm.exception))

    @unittest.skipUnless(hasattr(os, "copy_file_range"), "os.copy_file_range needs Python 3.8+ on Linux")
    def test_cache_copies_run_in_the_kernel(self):
        src = os.path.join(self.root, "a", "f3.txt")
        dest = os.path.join(self.tmp.name, "copy.txt")
        real = os.copy_file_range
        used = []

        def counting(*a, **k):
            used.append(a)
            return real(*a, **k)

        with mock.patch("os.copy_file_range", counting):
            transfer.copy_file(src, dest)
        with open(dest) as f:
            self.assertEqual(f.read(), "a 3")
        self.assertTrue(used, "copy_file_range was not used")
        self.assertEqual([n for n in os.listdir(self.tmp.name) if "amphora-tmp" in n], [])


if __name__ == "__main__":
    unittest.main()
