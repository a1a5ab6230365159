"""The manifest cache: a committed version's manifest is read from <cache>/manifests/ instead of
asked for again; damaged or foreign files there are ignored and replaced; the file format is the one
the TypeScript SDK shares (checked here from the documented rule, not from the module's code)."""
import errno
import hashlib
import json
import os
import pathlib
import shutil
import stat
import tempfile
import unittest
from unittest import mock

import amphora
from amphora import Api, Artifact, manifest_cache
from amphora.manifest import artifact_digest
from amphora.transport import Http

from .support import ServerTestCase


def sha(data):
    return hashlib.sha256(data).hexdigest()


FILES = {"a.txt": b"alpha\n", "sub/b.bin": b"\x00\x01" * 700, "sub/deeper/c.csv": b"x,y\n1,2\n", "copy-of-a.txt": b"alpha\n",
         "\u00e9t\u00e9.txt": "summer \u00e9".encode()}


def documented_key(base_url, version_id, digest):
    return sha(("amphora-manifest-v1\n" + base_url.rstrip("/") + "\n" + version_id + "\n" + digest).encode("utf-8"))


class _Requests:
    """Records the path of every request the client sends (through Http.open)."""

    def __init__(self):
        self.paths = []
        real = Http.open
        recorder = self

        def open_(http, method, path_or_url, *args, **kwargs):
            recorder.paths.append(path_or_url)
            return real(http, method, path_or_url, *args, **kwargs)

        self._patch = mock.patch.object(Http, "open", open_)

    def manifest_requests(self):
        return [p for p in self.paths if p.split("?")[0].endswith("/manifest")]

    def __enter__(self):
        self._patch.start()
        return self

    def __exit__(self, *exc):
        self._patch.stop()
        return False


class ManifestCacheTest(ServerTestCase):
    _n = 0

    def setUp(self):
        # Each test gets its own cache (a new cache dir also means a new client).
        ManifestCacheTest._n += 1
        self.cache = os.path.join(self.tmp, f"cache-{self._n}")
        os.environ["AMPHORA_CACHE_DIR"] = self.cache
        self.name = f"mc{self._n}"
        with amphora.init(project="p-mcache", job_type="make") as run:
            art = Artifact(self.name, type="dataset")
            for rel, data in FILES.items():
                art.add_file(self.write(os.path.join(self.name, rel), data), name=rel)
            run.log_artifact(art)
        self.ref = f"p-mcache/{self.name}:v0"
        self.version = Api().artifact(self.ref)._version
        self.base_url = self.server.url.rstrip("/")
        self.key = documented_key(self.base_url, self.version["id"], self.version["digest"])
        self.path = os.path.join(self.cache, "manifests", self.key[:2], self.key)
        self.roots = 0

    def tearDown(self):
        for dirpath, dirnames, _ in os.walk(self.cache):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)
        if os.path.isdir(self.cache):
            os.chmod(self.cache, 0o755)

    def download(self):
        """Downloads the version into a new root with a fresh Artifact; returns (root, manifest requests)."""
        self.roots += 1
        root = os.path.join(self.work, f"{self.name}-root{self.roots}")
        with _Requests() as seen:
            Api().artifact(self.ref).download(root)
        self.assert_tree(root)
        return root, seen.manifest_requests()

    def assert_tree(self, root):
        found = {}
        for dirpath, _, filenames in os.walk(root):
            for fn in filenames:
                full = os.path.join(dirpath, fn)
                found[os.path.relpath(full, root).replace(os.sep, "/")] = pathlib.Path(full).read_bytes()
        self.assertEqual(found, FILES)

    def server_manifest(self):
        c = Api().artifact(self.ref)._client
        return c.http.get(c.version_path(self.version["entity"], self.version["project"], self.name, "v0") + "/manifest")["entries"]

    def assert_valid_file(self):
        """The cache file is a regular file in exactly the documented format."""
        st = os.lstat(self.path)
        self.assertTrue(stat.S_ISREG(st.st_mode), "a regular file, not a link")
        data = pathlib.Path(self.path).read_bytes()
        header, _, body = data.partition(b"\n")
        self.assertEqual(header, b"amphora-manifest-v1 " + sha(body).encode("ascii"))
        doc = json.loads(body.decode("utf-8"))
        self.assertEqual(sorted(doc), ["digest", "entries", "fileCount", "size"])
        self.assertEqual((doc["digest"], doc["fileCount"], doc["size"]),
                         (self.version["digest"], self.version["fileCount"], self.version["size"]))
        self.assertEqual(doc["entries"], self.server_manifest())
        return doc

    def forget(self):
        shutil.rmtree(os.path.join(self.cache, "manifests"), ignore_errors=True)

    # ------------------------------------------------------------------ hits
    def test_second_download_into_a_new_root_asks_for_no_manifest(self):
        self.forget()  # the log cached it already; start from the server's answer
        _, asked = self.download()
        self.assertEqual(len(asked), 1, "the first download fetches the manifest")
        self.assert_valid_file()
        _, asked = self.download()
        self.assertEqual(asked, [], "the second one reads it from the cache")

    def test_logging_a_version_caches_the_manifest_it_committed(self):
        self.assert_valid_file()
        _, asked = self.download()
        self.assertEqual(asked, [])

    def test_the_file_has_the_documented_key_header_and_body(self):
        self.forget()
        self.download()
        doc = self.assert_valid_file()
        self.assertEqual(doc["entries"]["sub/b.bin"], {"digest": sha(FILES["sub/b.bin"]), "size": len(FILES["sub/b.bin"])})
        self.assertEqual(os.listdir(os.path.join(self.cache, "manifests")), [self.key[:2]])
        self.assertEqual(os.listdir(os.path.join(self.cache, "manifests", self.key[:2])), [self.key], "no temp files left behind")
        self.assertEqual(manifest_cache.cache_key(self.base_url + "/", self.version["id"], self.version["digest"]), self.key)

    def test_any_json_formatting_written_by_another_client_is_read(self):
        # As another writer might lay it out: indented, keys in another order, non-ASCII unescaped.
        entries = self.server_manifest()
        body = json.dumps({"entries": entries, "size": self.version["size"], "fileCount": self.version["fileCount"],
                           "digest": self.version["digest"]}, indent=2, ensure_ascii=False).encode("utf-8")
        pathlib.Path(self.path).write_bytes(b"amphora-manifest-v1 " + sha(body).encode() + b"\n" + body)
        _, asked = self.download()
        self.assertEqual(asked, [])
        self.assertEqual(pathlib.Path(self.path).read_bytes()[-len(body):], body, "a good file is left as it is")

    # ------------------------------------------------------------------ misses
    def _good_bytes(self):
        return pathlib.Path(self.path).read_bytes()

    def _reencode(self, **changes):
        doc = json.loads(self._good_bytes().partition(b"\n")[2])
        doc.update(changes)
        body = json.dumps(doc).encode("utf-8")
        return b"amphora-manifest-v1 " + sha(body).encode() + b"\n" + body

    def assert_replaced_after(self, damage):
        damage()
        _, asked = self.download()
        self.assertEqual(len(asked), 1, "a damaged file is a miss: the server is asked")
        self.assert_valid_file()
        _, asked = self.download()
        self.assertEqual(asked, [], "and the file written in its place is used")

    def test_damaged_files_are_ignored_and_replaced(self):
        good = self._good_bytes()
        header, _, body = good.partition(b"\n")
        flipped = bytearray(body)
        flipped[len(flipped) // 2] ^= 0x01
        cases = {
            "body flipped": header + b"\n" + bytes(flipped),
            "header hash wrong": b"amphora-manifest-v1 " + b"0" * 64 + b"\n" + body,
            "header magic wrong": b"amphora-manifest-v2 " + sha(body).encode() + b"\n" + body,
            "header hash upper case": b"amphora-manifest-v1 " + sha(body).upper().encode() + b"\n" + body,
            "no header": body,
            "truncated": good[: len(good) // 2],
            "truncated in the header": good[:30],
            "empty": b"",
            "wrong fileCount": self._reencode(fileCount=self.version["fileCount"] + 1),
            "wrong size": self._reencode(size=self.version["size"] + 1),
            "wrong digest": self._reencode(digest="0" * 64),
            "fileCount a string": self._reencode(fileCount=str(self.version["fileCount"])),
            "entries not an object": self._reencode(entries=[]),
            "entries disagree with fileCount": self._reencode(entries={"a.txt": {"digest": sha(b"alpha\n"), "size": 6}}),
            "another file's content": self._reencode(entries=dict(self.server_manifest(), **{"a.txt": {"digest": sha(b"other!"), "size": 6}})),
            "a renamed path": self._reencode(entries=dict({k: v for k, v in self.server_manifest().items() if k != "a.txt"},
                                                          **{"A.txt": self.server_manifest()["a.txt"]})),
            "entry without a size": self._reencode(entries=dict(self.server_manifest(), **{"a.txt": {"digest": sha(b"alpha\n")}})),
            "not an object": b"amphora-manifest-v1 " + sha(b"[1]").encode() + b"\n[1]",
            "not JSON": b"amphora-manifest-v1 " + sha(b"{nope").encode() + b"\n{nope",
            "not UTF-8": b"amphora-manifest-v1 " + sha(b"\xff\xfe").encode() + b"\n\xff\xfe",
            "deeply nested": b"amphora-manifest-v1 " + sha(b"[" * 100000).encode() + b"\n" + b"[" * 100000,
        }
        for label, data in cases.items():
            with self.subTest(label):
                self.assert_replaced_after(lambda: pathlib.Path(self.path).write_bytes(data))

    def test_a_link_in_place_of_the_file_is_ignored_and_replaced_even_to_a_valid_file(self):
        elsewhere = os.path.join(self.tmp, f"{self.name}-valid-manifest")
        shutil.copyfile(self.path, elsewhere)

        def link():
            os.remove(self.path)
            os.symlink(elsewhere, self.path)

        self.assert_replaced_after(link)
        self.assertTrue(os.path.isfile(elsewhere), "the link's target is left alone")

    def test_a_folder_in_place_of_the_file_is_a_miss(self):
        os.remove(self.path)
        os.mkdir(self.path)
        _, asked = self.download()
        self.assertEqual(len(asked), 1)
        _, asked = self.download()
        self.assertEqual(len(asked), 1, "it cannot be replaced, so the server is asked each time")

    def test_an_oversized_file_is_a_miss(self):
        with mock.patch.object(manifest_cache, "MAX_BYTES", os.path.getsize(self.path) - 1):
            _, asked = self.download()
            self.assertEqual(len(asked), 1)
            self.assertFalse(os.path.exists(self.path), "not written again: a reader would refuse it")

    def test_a_manifest_for_another_server_or_version_is_not_used(self):
        data = self._good_bytes()
        other = documented_key("http://elsewhere.example:7411", self.version["id"], self.version["digest"])
        os.remove(self.path)
        os.makedirs(os.path.join(self.cache, "manifests", other[:2]), exist_ok=True)
        pathlib.Path(self.cache, "manifests", other[:2], other).write_bytes(data)
        _, asked = self.download()
        self.assertEqual(len(asked), 1)

    def test_a_version_not_committed_is_never_cached(self):
        v = dict(self.version, state="pending")
        self.assertIsNone(manifest_cache.load(self.cache, self.base_url, v))
        manifest_cache.store(self.cache, self.base_url, dict(v, id="other"), self.server_manifest())
        self.assertFalse(os.path.exists(manifest_cache.cache_path(self.cache, documented_key(self.base_url, "other", v["digest"]))))

    # ------------------------------------------------------------------ a cache that cannot be written
    def test_a_read_only_cache_folder_still_downloads(self):
        self.forget()
        # All blobs are in the cache (the log put them there); make every folder of it read-only.
        os.makedirs(os.path.join(self.cache, "manifests"))
        for dirpath, dirnames, _ in os.walk(self.cache):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o555)
        os.chmod(self.cache, 0o555)
        with _read_only(self.cache):
            for _ in range(2):
                _, asked = self.download()
                self.assertEqual(len(asked), 1, "nothing could be cached: the server is asked each time")
        self.assertEqual(os.listdir(os.path.join(self.cache, "manifests")), [])

    def test_a_read_only_cache_folder_with_a_manifest_in_it_is_read(self):
        for dirpath, dirnames, _ in os.walk(self.cache):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o555)
        os.chmod(self.cache, 0o555)
        with _read_only(self.cache):
            _, asked = self.download()
        self.assertEqual(asked, [])


class _read_only:
    """Writes under `folder` fail with EROFS even for root (for whom chmod does not stop them)."""

    def __init__(self, folder):
        self.folder = os.path.abspath(folder) + os.sep
        self.patches = []

    def _guard(self, real, *path_args):
        def guarded(*args, **kwargs):
            for i in path_args:
                if i < len(args) and os.path.abspath(os.fspath(args[i])).startswith(self.folder):
                    raise OSError(errno.EROFS, os.strerror(errno.EROFS), args[i])
            return real(*args, **kwargs)

        return guarded

    def __enter__(self):
        real_open = open

        def open_(file, mode="r", *args, **kwargs):
            if any(c in mode for c in "wxa+") and isinstance(file, (str, os.PathLike)) \
                    and os.path.abspath(os.fspath(file)).startswith(self.folder):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), file)
            return real_open(file, mode, *args, **kwargs)

        real_os_open = os.open

        def os_open(path, flags, *args, **kwargs):
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and os.path.abspath(os.fspath(path)).startswith(self.folder):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
            return real_os_open(path, flags, *args, **kwargs)

        self.patches = [mock.patch("builtins.open", open_), mock.patch("os.open", os_open),
                        mock.patch("os.makedirs", self._guard(os.makedirs, 0)), mock.patch("os.mkdir", self._guard(os.mkdir, 0)),
                        mock.patch("os.replace", self._guard(os.replace, 0, 1)), mock.patch("os.rename", self._guard(os.rename, 0, 1)),
                        mock.patch("os.remove", self._guard(os.remove, 0)), mock.patch("os.unlink", self._guard(os.unlink, 0)),
                        mock.patch("os.link", self._guard(os.link, 1))]
        for p in self.patches:
            p.start()
        return self

    def __exit__(self, *exc):
        for p in reversed(self.patches):
            p.stop()
        return False


class LoadNeverRaisesTest(unittest.TestCase):
    """The module on its own: whatever lies in the cache, load answers None or entries, never raises."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="amphora-mcache-")
        self.entries = {"a.txt": {"digest": sha(b"alpha\n"), "size": 6}}
        self.version = {"id": "7", "state": "committed", "digest": artifact_digest(self.entries), "fileCount": 1, "size": 6}

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_round_trip_and_missing(self):
        self.assertIsNone(manifest_cache.load(self.tmp, "http://h", self.version))
        manifest_cache.store(self.tmp, "http://h", self.version, self.entries)
        self.assertEqual(manifest_cache.load(self.tmp, "http://h", self.version), self.entries)
        self.assertIsNone(manifest_cache.load(self.tmp, "http://h", dict(self.version, fileCount=2)))
        self.assertFalse(os.path.exists(manifest_cache.cache_path(self.tmp, manifest_cache.cache_key("http://h", "7", self.version["digest"]))),
                         "a file that does not match the version is removed")

    def test_odd_versions_and_cache_dirs(self):
        manifest_cache.store(self.tmp, "http://h", self.version, self.entries)
        for version in (None, {}, dict(self.version, id=None), dict(self.version, digest=7), dict(self.version, state="deleted")):
            self.assertIsNone(manifest_cache.load(self.tmp, "http://h", version))
        not_a_folder = os.path.join(self.tmp, "file")
        pathlib.Path(not_a_folder).write_bytes(b"x")
        self.assertIsNone(manifest_cache.load(not_a_folder, "http://h", self.version))
        manifest_cache.store(not_a_folder, "http://h", self.version, self.entries)  # nothing raised

    def test_the_encoding_is_the_documented_one(self):
        data = manifest_cache.encode(self.version["digest"], 1, 6, self.entries)
        header, _, body = data.partition(b"\n")
        self.assertEqual(header, b"amphora-manifest-v1 " + sha(body).encode())
        self.assertEqual(json.loads(body), {"digest": self.version["digest"], "fileCount": 1, "size": 6, "entries": self.entries})


if __name__ == "__main__":
    unittest.main()
