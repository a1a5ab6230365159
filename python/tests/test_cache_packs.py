"""Small blobs of the download cache live in pack files (<cache>/packs/<32 hex>.pack), the format
the TypeScript SDK and the server write too: packs Python writes are read back, packs laid out as the
TypeScript side lays them are read, a damaged or vanished pack is dropped and its blobs fetched
again, and a pack that cannot be written never fails a log or a download."""
import errno
import hashlib
import os
import shutil
import tempfile
import unittest
import uuid
from unittest import mock

import amphora
from amphora import Api, cache_packs
from amphora.settings import cached_blob_path
from amphora.transfer import Stats, Transfer, absent_from_cache

from .support import ServerTestCase, cached_blob, pack_files, packed_digests


def sha(data):
    return hashlib.sha256(data).hexdigest()


def ts_pack(blobs, entries=None):
    """A pack as src/core/node/packFormat.ts encodePack lays it out, byte for byte: the blobs back to
    back, then per blob its raw digest, offset (u32 LE) and size (u32 LE), then b"AMPHPK01", the
    count (u32 LE), 0 (u32 LE) and the SHA-256 of the entries. `entries`: other entries instead
    (with a checksum that matches them), to make an index that lies."""
    body, index, at = b"", b"", 0
    for data in blobs:
        index += hashlib.sha256(data).digest() + at.to_bytes(4, "little") + len(data).to_bytes(4, "little")
        body += data
        at += len(data)
    index = index if entries is None else entries
    return body + index + b"AMPHPK01" + (len(index) // 40).to_bytes(4, "little") + bytes(4) + hashlib.sha256(index).digest()


def put_pack(cache, data, name=None):
    folder = os.path.join(cache, "packs")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, (name or uuid.uuid4().hex) + ".pack")
    with open(path, "wb") as f:
        f.write(data)
    return path


class PackFormatTest(unittest.TestCase):
    """The reader and writer without a server."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="amphora-packs-")
        self.cache = os.path.join(self.tmp, "cache")
        self.blobs = [b"first blob", os.urandom(4096), b"", b"third" * 100]

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def copy_out(self, transfer, data, dest_name="out.bin"):
        """Transfer._from_local of one blob into a new file: (found, stats)."""
        dest = os.path.join(self.tmp, dest_name)
        stats = Stats()
        found = transfer._from_local(sha(data), len(data), dest, stats, st=None, fresh=True)
        if found:
            with open(dest, "rb") as f:
                self.assertEqual(f.read(), data)
            os.remove(dest)
        return found, stats

    def test_a_pack_written_by_python_is_byte_for_byte_the_typescript_layout_and_read_by_a_new_client(self):
        writer = Transfer(None, self.cache)
        for data in self.blobs:
            writer.adopt_bytes(data, sha(data))
        writer.settle_cache()
        [pack] = pack_files(self.cache)
        self.assertRegex(os.path.basename(pack), r"^[0-9a-f]{32}\.pack$")
        with open(pack, "rb") as f:
            self.assertEqual(f.read(), ts_pack(self.blobs))
        reader = Transfer(None, self.cache)
        for i, data in enumerate(self.blobs):
            found, stats = self.copy_out(reader, data, f"out-{i}")
            self.assertTrue(found)
            self.assertEqual(stats.cache_hits, 1)

    def test_a_pack_in_the_typescript_layout_is_read(self):
        put_pack(self.cache, ts_pack(self.blobs))
        t = Transfer(None, self.cache)
        for data in self.blobs:
            self.assertTrue(t.packs.has(sha(data)))
            self.assertEqual(t.packs.get(sha(data), len(data)), data)
        self.assertIsNone(t.packs.get(sha(b"not packed"), 10))

    def test_the_index_is_read_at_the_first_question_not_before(self):
        put_pack(self.cache, ts_pack(self.blobs))
        with mock.patch.object(cache_packs.os, "listdir", wraps=os.listdir) as listdir:
            t = Transfer(None, self.cache)
            t.settle_cache()  # an operation that asked nothing about small blobs
            self.assertEqual(listdir.call_count, 0)
            t.packs.has(sha(self.blobs[0]))
            t.packs.get(sha(self.blobs[1]), len(self.blobs[1]))
            self.assertEqual(listdir.call_count, 1, "once per operation")

    def test_reads_open_each_pack_once_per_operation(self):
        pack = put_pack(self.cache, ts_pack(self.blobs))
        t = Transfer(None, self.cache)
        with mock.patch.object(cache_packs.os, "open", wraps=os.open) as opened:
            for data in self.blobs * 3:
                self.assertEqual(t.packs.get(sha(data), len(data)), data)
        self.assertEqual([c.args[0] for c in opened.call_args_list], [pack, pack], "its index once, its blobs once")

    def test_pending_blobs_are_readable_before_the_pack_is_written(self):
        t = Transfer(None, self.cache)
        data = b"held for the next pack"
        t.packs.add(sha(data), data)
        self.assertEqual(pack_files(self.cache), [])
        found, stats = self.copy_out(t, data)
        self.assertTrue(found)
        self.assertEqual(absent_from_cache(self.cache, [sha(data)] * 8, packed=t.packs.has), set())
        self.assertEqual(absent_from_cache(self.cache, [sha(data)] * 8), {sha(data)}, "no file of its own")

    def test_absent_from_cache_never_reports_a_packed_blob(self):
        put_pack(self.cache, ts_pack(self.blobs))
        digests = [sha(d) for d in self.blobs] + [sha(b"x%d" % i) for i in range(8)]
        t = Transfer(None, self.cache)
        for shard_min in (1, 8):
            absent = absent_from_cache(self.cache, digests, min_per_shard=shard_min, packed=t.packs.has)
            self.assertFalse(absent & {sha(d) for d in self.blobs})

    def test_a_new_pack_is_written_once_the_held_bytes_pass_the_limit(self):
        t = Transfer(None, self.cache)
        blobs = [os.urandom(300) for _ in range(10)]
        with mock.patch.object(cache_packs, "PACK_FLUSH_BYTES", 1000):
            for data in blobs:
                t.adopt_bytes(data, sha(data))
            self.assertEqual(len(pack_files(self.cache)), 2, "4 + 4 blobs, 2 still held")
            t.settle_cache()
        self.assertEqual(len(pack_files(self.cache)), 3)
        self.assertEqual(packed_digests(self.cache), {sha(d) for d in blobs})
        for data in blobs:
            self.assertEqual(t.packs.get(sha(data), len(data)), data)

    def test_a_blob_in_two_packs_is_read_from_the_first(self):
        data = b"in both"
        first = put_pack(self.cache, ts_pack([data]), "0" * 32)
        put_pack(self.cache, ts_pack([b"other", data]), "f" * 32)
        t = Transfer(None, self.cache)
        with mock.patch.object(cache_packs.os, "open", wraps=os.open) as opened:
            self.assertEqual(t.packs.get(sha(data), len(data)), data)
        self.assertEqual(opened.call_args_list[-1].args[0], first)

    def test_damaged_packs_are_deleted_and_their_blobs_count_as_absent(self):
        good = ts_pack(self.blobs)
        index_at = len(good) - 48 - 40 * len(self.blobs)
        entries = good[index_at:-48]
        past_end = bytearray(entries)
        past_end[40 + 32 : 40 + 36] = (index_at - 100).to_bytes(4, "little")  # 4096 bytes from there run past the blobs
        cases = {
            "bad checksum": good[:-1] + bytes([good[-1] ^ 1]),
            "a damaged entry": good[: index_at + 33] + bytes([good[index_at + 33] ^ 1]) + good[index_at + 34 :],
            "cut short": good[:-10],
            "shorter than a trailer": good[-40:],
            "wrong magic": good[:-48] + b"AMPHPK02" + good[-40:],
            "count past the file": good[:-48] + b"AMPHPK01" + (10_000).to_bytes(4, "little") + good[-36:],
            "entry out of bounds": ts_pack(self.blobs, entries=bytes(past_end)),
        }
        for why, data in cases.items():
            with self.subTest(why):
                shutil.rmtree(self.cache, ignore_errors=True)
                pack = put_pack(self.cache, data)
                t = Transfer(None, self.cache)
                for blob in self.blobs:
                    self.assertIsNone(t.packs.get(sha(blob), len(blob)))
                self.assertFalse(os.path.exists(pack), "deleted")
                self.assertEqual(t.packs.dropped, 1)

    def test_a_blob_that_fails_its_digest_drops_its_whole_pack(self):
        data = bytearray(ts_pack(self.blobs))
        data[len(self.blobs[0]) + 10] ^= 0xFF  # inside the second blob
        pack = put_pack(self.cache, bytes(data))
        t = Transfer(None, self.cache)
        self.assertEqual(t.packs.get(sha(self.blobs[0]), len(self.blobs[0])), self.blobs[0])
        found, _ = self.copy_out(t, self.blobs[1])
        self.assertFalse(found)
        self.assertFalse(os.path.exists(pack))
        self.assertFalse(t.packs.has(sha(self.blobs[3])), "its other blobs are forgotten too")
        self.assertIsNone(t.packs.get(sha(self.blobs[0]), len(self.blobs[0])))

    def test_the_right_blob_asked_for_with_another_size_is_not_used_and_the_pack_is_kept(self):
        pack = put_pack(self.cache, ts_pack(self.blobs))
        t = Transfer(None, self.cache)
        self.assertIsNone(t.packs.get(sha(self.blobs[1]), 12))
        self.assertTrue(os.path.exists(pack))
        self.assertEqual(t.packs.get(sha(self.blobs[1]), 4096), self.blobs[1])

    def test_a_pack_that_vanished_is_forgotten_without_an_error(self):
        pack = put_pack(self.cache, ts_pack(self.blobs))
        t = Transfer(None, self.cache)
        self.assertTrue(t.packs.has(sha(self.blobs[0])))  # its index is in
        os.remove(pack)  # `amphora cache cleanup` in another process
        found, _ = self.copy_out(t, self.blobs[0])
        self.assertFalse(found)
        self.assertFalse(t.packs.has(sha(self.blobs[1])))
        self.assertEqual(t.packs.dropped, 0, "nothing was damaged")

    def test_the_next_operation_sees_packs_other_processes_wrote_or_removed(self):
        t = Transfer(None, self.cache)
        self.assertFalse(t.packs.has(sha(self.blobs[0])))
        pack = put_pack(self.cache, ts_pack(self.blobs))
        self.assertFalse(t.packs.has(sha(self.blobs[0])), "one listing per operation")
        t.settle_cache()
        self.assertTrue(t.packs.has(sha(self.blobs[0])))
        os.remove(pack)
        t.settle_cache()
        self.assertFalse(t.packs.has(sha(self.blobs[0])))

    def test_a_pack_that_cannot_be_written_raises_nothing_and_leaves_no_temp_file(self):
        data = b"lost with the pack"
        for why in ("a file where the packs folder should be", "permission denied"):
            with self.subTest(why):
                shutil.rmtree(self.cache, ignore_errors=True)
                os.makedirs(self.cache)
                t = Transfer(None, self.cache)
                t.adopt_bytes(data, sha(data))
                if why == "permission denied":
                    os.makedirs(os.path.join(self.cache, "packs"))
                    denied = OSError(errno.EACCES, os.strerror(errno.EACCES))
                    with mock.patch.object(cache_packs.os, "replace", side_effect=denied):
                        t.settle_cache()
                    self.assertEqual(os.listdir(os.path.join(self.cache, "packs")), [], "no temp file left")
                else:
                    with open(os.path.join(self.cache, "packs"), "wb"):
                        pass
                    t.settle_cache()
                self.assertIsNone(t.packs.get(sha(data), len(data)), "lost from the cache, nothing more")
                self.assertEqual(pack_files(self.cache), [])


class PackedCacheDownloadTest(ServerTestCase):
    """Downloads and logs against a real server with packs in the cache."""

    def setUp(self):
        self._cache = os.environ["AMPHORA_CACHE_DIR"]

    def tearDown(self):
        amphora.finish()
        os.environ["AMPHORA_CACHE_DIR"] = self._cache

    def use_cache(self, name):
        """A cache of its own (and so a new client, with nothing loaded yet); returns its folder."""
        cache = os.path.join(self.tmp, name)
        os.environ["AMPHORA_CACHE_DIR"] = cache
        return cache

    def log(self, project, files):
        folder = os.path.join(self.work, "src-" + project)
        for name, data in files.items():
            self.write(os.path.join(folder, name), data)
        with amphora.init(project=project, job_type="x") as run:
            a = amphora.Artifact("data", type="dataset")
            a.add_dir(folder)
            run.log_artifact(a)
        return a

    def download(self, project, root):
        got = Api().artifact(f"{project}/data:v0")
        out = got.download(os.path.join(self.work, root))
        return got.last_transfer, out

    def assertFiles(self, root, files):
        for name, data in files.items():
            with open(os.path.join(root, name), "rb") as f:
                self.assertEqual(f.read(), data, name)

    @staticmethod
    def files(n, tag):
        return {f"f{i:03d}.bin": os.urandom(100) + tag.encode() + b"%d" % i for i in range(n)}

    def test_a_typescript_layout_pack_serves_a_download(self):
        files = self.files(20, "ts")
        self.use_cache("cache-ts-producer")
        self.log("p-ts", files)
        cache = self.use_cache("cache-ts")
        put_pack(cache, ts_pack(list(files.values())))
        stats, out = self.download("p-ts", "ts-out")
        self.assertFiles(out, files)
        self.assertEqual((stats.cache_hits, stats.files_downloaded, stats.bytes_downloaded), (20, 0, 0))
        self.assertEqual(len(pack_files(cache)), 1, "nothing new to pack")

    def test_a_cold_download_writes_one_pack_the_next_download_reads(self):
        files = self.files(30, "cold")
        self.use_cache("cache-cold-producer")
        self.log("p-cold", files)
        cache = self.use_cache("cache-cold")
        stats, _ = self.download("p-cold", "cold-1")
        self.assertEqual(stats.files_downloaded, 30)
        [pack] = pack_files(cache)
        self.assertFalse(os.path.exists(os.path.join(cache, "blobs")), "no file per blob")
        with mock.patch.object(cache_packs.os, "open", wraps=os.open) as opened:
            stats, out = self.download("p-cold", "cold-2")
        self.assertFiles(out, files)
        self.assertEqual((stats.cache_hits, stats.files_downloaded), (30, 0))
        self.assertEqual([c.args[0] for c in opened.call_args_list].count(pack), 1, "the pack is opened once for 30 blobs")

    def test_a_damaged_pack_is_deleted_and_its_blobs_are_fetched_again(self):
        files = self.files(10, "damaged")
        self.use_cache("cache-damaged-producer")
        self.log("p-damaged", files)
        cache = self.use_cache("cache-damaged")
        good = ts_pack(list(files.values()))
        pack = put_pack(cache, good[:-1] + bytes([good[-1] ^ 1]))  # its checksum no longer matches
        stats, out = self.download("p-damaged", "damaged-out")
        self.assertFiles(out, files)
        self.assertEqual((stats.cache_hits, stats.files_downloaded), (0, 10))
        self.assertFalse(os.path.exists(pack))
        self.assertEqual(packed_digests(cache), {sha(d) for d in files.values()}, "packed again")

    def test_a_pack_removed_during_a_process_falls_back_to_fetching(self):
        files = self.files(10, "gone")
        self.use_cache("cache-gone-producer")
        self.log("p-gone", files)
        cache = self.use_cache("cache-gone")
        put_pack(cache, ts_pack(list(files.values())))
        client = amphora.client.get_client()
        self.assertTrue(client.transfer.packs.has(sha(files["f000.bin"])), "the index is in")
        client.transfer.settle_cache()  # the download is the next operation: it lists the packs again
        # Removed after the download listed the packs, before it opens this one (another process's
        # `amphora cache cleanup`): the download asks the server instead.
        real = client.transfer.packs._load
        with mock.patch.object(client.transfer.packs, "_load", lambda: (real(), shutil.rmtree(os.path.join(cache, "packs")))):
            stats, out = self.download("p-gone", "gone-out")
        self.assertFiles(out, files)
        self.assertEqual((stats.cache_hits, stats.files_downloaded), (0, 10))
        self.assertEqual(client.transfer.packs.dropped, 0, "nothing was damaged")
        for data in files.values():
            self.assertTrue(client.transfer.packs.has(sha(data)), "packed again")

    def test_a_pack_that_cannot_be_written_fails_neither_the_log_nor_the_download(self):
        files = self.files(5, "blocked")
        cache = self.use_cache("cache-blocked")
        os.makedirs(cache)
        with open(os.path.join(cache, "packs"), "wb"):
            pass  # a file where the packs folder should be
        art = self.log("p-blocked", files)
        self.assertEqual(art.last_transfer.files_uploaded, 5)
        stats, out = self.download("p-blocked", "blocked-out")
        self.assertFiles(out, files)
        self.assertEqual(stats.files_downloaded, 5, "nothing was cached")
        self.assertTrue(os.path.isfile(os.path.join(cache, "packs")))

    def test_a_log_packs_its_small_files_and_keeps_large_ones_as_files(self):
        files = self.files(3, "mixed")
        files["big.bin"] = os.urandom((1 << 20) + 1)
        cache = self.use_cache("cache-mixed")
        self.log("p-mixed", files)
        [pack] = pack_files(cache)
        self.assertEqual(packed_digests(cache), {sha(d) for n, d in files.items() if n != "big.bin"})
        with open(cached_blob_path(cache, sha(files["big.bin"])), "rb") as f:
            self.assertEqual(f.read(), files["big.bin"])
        for data in files.values():
            self.assertEqual(cached_blob(cache, sha(data)), data)
        stats, out = self.download("p-mixed", "mixed-out")
        self.assertFiles(out, files)
        self.assertEqual((stats.cache_hits, stats.files_downloaded), (4, 0))

    def test_skip_cache_reads_packs_and_adds_none(self):
        files = self.files(6, "skip")
        self.use_cache("cache-skip-producer")
        self.log("p-skip", files)
        cache = self.use_cache("cache-skip")
        names = sorted(files)
        put_pack(cache, ts_pack([files[n] for n in names[:3]]))
        got = Api().artifact("p-skip/data:v0")
        out = got.download(os.path.join(self.work, "skip-out"), skip_cache=True)
        self.assertFiles(out, files)
        self.assertEqual((got.last_transfer.cache_hits, got.last_transfer.files_downloaded), (3, 3))
        self.assertEqual(packed_digests(cache), {sha(files[n]) for n in names[:3]})
        self.assertFalse(os.path.exists(os.path.join(cache, "blobs")))


if __name__ == "__main__":
    unittest.main()
