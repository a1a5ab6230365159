"""gs:// references in the Python client with a stand-in for google-cloud-storage: the package is not
installable on this machine (no Debian package, no downloads), so a minimal in-memory stand-in with
the library's documented calls (Client, bucket, get_blob, list_blobs, blob(generation=),
download_to_file) exercises the client's own logic: entries, prefixes, max_objects, generation
pinning, changed and deleted objects, MD5 / CRC32C checks. The TypeScript SDK's gs:// path is tested
with the real @google-cloud/storage client against a fake GCS JSON API."""
import base64
import hashlib
import os
import sys
import types
import unittest
from unittest import mock

import amphora
from amphora import Api, Artifact

from .support import ServerTestCase


def _crc32c(data):
    """CRC-32C (Castagnoli), big-endian bytes as GCS reports it."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return (crc ^ 0xFFFFFFFF).to_bytes(4, "big")


class NotFound(Exception):
    code = 404


class _Blob:
    def __init__(self, store, bucket, name, generation=None):
        self.store, self.bucket_name, self.name, self._generation = store, bucket, name, generation
        self.generation = self.size = self.md5_hash = self.crc32c = self.etag = None

    def _load(self, g):
        gen, data, composite = g
        self.generation, self.size = gen, len(data)
        self.md5_hash = None if composite else base64.b64encode(hashlib.md5(data).digest()).decode()
        self.crc32c = base64.b64encode(_crc32c(data)).decode()
        self.etag = f"E{gen}"
        return self

    def download_to_file(self, file_obj, raw_download=False, checksum="md5"):
        history = self.store.buckets[self.bucket_name].get(self.name) or []
        found = [g for g in history if g[0] == self._generation] if self._generation else history[-1:]
        if not found:
            raise NotFound(f"No such object: {self.bucket_name}/{self.name}")
        file_obj.write(self.store.served(found[0][1]))


class _Bucket:
    def __init__(self, store, name):
        self.store, self.name = store, name

    def get_blob(self, name):
        if self.name not in self.store.buckets:
            raise NotFound("The specified bucket does not exist.")
        history = self.store.buckets[self.name].get(name)
        return _Blob(self.store, self.name, name)._load(history[-1]) if history else None

    def blob(self, name, generation=None):
        return _Blob(self.store, self.name, name, generation)


class StandInStorage:
    """google.cloud.storage as far as gcs_references.py uses it; objects live in `buckets`."""

    def __init__(self):
        self.buckets = {"plain": {}, "kept": {}}
        self.versioned = {"kept"}
        self.next_generation = 1700000000000000
        self.served = lambda data: data  # a corrupting network can be simulated by replacing it
        store = self

        class Client:
            def __init__(self, project=None, credentials=None):
                pass

            def bucket(self, name):
                return _Bucket(store, name)

            def list_blobs(self, bucket, prefix="", page_size=None):
                if bucket not in store.buckets:
                    raise NotFound("The specified bucket does not exist.")
                for name in sorted(store.buckets[bucket]):
                    if name.startswith(prefix):
                        yield _Blob(store, bucket, name)._load(store.buckets[bucket][name][-1])

        self.Client = Client

    def put(self, bucket, name, data, composite=False):
        self.next_generation += 1
        g = (self.next_generation, data, composite)
        history = self.buckets[bucket].setdefault(name, [])
        history[:] = history + [g] if bucket in self.versioned else [g]
        return self.next_generation

    def modules(self):
        google = types.ModuleType("google")
        cloud = types.ModuleType("google.cloud")
        storage = types.ModuleType("google.cloud.storage")
        storage.Client = self.Client
        cloud.storage = storage
        google.cloud = cloud
        auth = types.ModuleType("google.auth")
        creds = types.ModuleType("google.auth.credentials")
        creds.AnonymousCredentials = object
        crc = types.ModuleType("google_crc32c")

        class Checksum:
            def __init__(self):
                self.data = b""

            def update(self, b):
                self.data += b

            def digest(self):
                return _crc32c(self.data)

        crc.Checksum = Checksum
        return {"google": google, "google.cloud": cloud, "google.cloud.storage": storage, "google.auth": auth,
                "google.auth.credentials": creds, "google_crc32c": crc}


class GcsReferencesWithStandInTest(ServerTestCase):
    def setUp(self):
        self.gcs = StandInStorage()
        patches = [mock.patch.dict(sys.modules, self.gcs.modules()), mock.patch.dict(os.environ, {"STORAGE_EMULATOR_HOST": "http://stand-in"}),
                   mock.patch("amphora.gcs_references._clients", {})]
        for p in patches:
            p.start()
            self.addCleanup(p.stop)

    def log(self, art, project="py-gcs"):
        with amphora.init(project=project, job_type="log") as run:
            run.log_artifact(art)
        return Api().artifact(f"{project}/{art.collection_name}:latest")

    def test_object_records_generation_and_md5_and_downloads(self):
        gen = self.gcs.put("plain", "data/train.csv", b"x,y\n1,2\n")
        art = Artifact("gcs-key", type="dataset")
        [entry] = art.add_reference("gs://plain/data/train.csv")
        self.assertEqual((entry.path, entry.size), ("train.csv", 8))
        self.assertEqual(entry.digest, base64.b64encode(hashlib.md5(b"x,y\n1,2\n").digest()).decode())
        self.assertEqual(entry.extra["generation"], str(gen))
        root = self.log(art).download(os.path.join(self.work, "key"))
        with open(os.path.join(root, "train.csv"), "rb") as f:
            self.assertEqual(f.read(), b"x,y\n1,2\n")

    def test_prefix_max_objects_and_missing(self):
        for n in "abc":
            self.gcs.put("plain", f"ds/{n}.txt", n.encode())
        self.gcs.put("plain", "ds/folder/", b"")
        entries = Artifact("gcs-prefix", type="dataset").add_reference("gs://plain/ds/", name="raw")
        self.assertEqual(sorted(e.path for e in entries), ["raw/a.txt", "raw/b.txt", "raw/c.txt"])
        e = self.assertAmphoraError("invalid_request", Artifact("x", type="dataset").add_reference, "gs://plain/ds/", max_objects=2)
        self.assertIn("more than max_objects=2 objects", str(e))
        e = self.assertAmphoraError("not_found", Artifact("x", type="dataset").add_reference, "gs://plain/nope.txt")
        self.assertIn("gs://plain/nope.txt does not exist", str(e))
        e = self.assertAmphoraError("not_found", Artifact("x", type="dataset").add_reference, "gs://no-such-bucket/")
        self.assertIn('Bucket "no-such-bucket" does not exist', str(e))

    def test_changed_generation_without_versioning_then_deleted(self):
        first = self.gcs.put("plain", "m.bin", b"first")
        art = Artifact("gcs-mutable", type="model")
        art.add_reference("gs://plain/m.bin")
        got = self.log(art)
        second = self.gcs.put("plain", "m.bin", b"second")
        e = self.assertAmphoraError("reference_changed", got.download, os.path.join(self.work, "mutable"))
        self.assertIn(f"generation was {first}, now {second}", str(e))
        self.assertFalse(os.path.exists(os.path.join(self.work, "mutable", "m.bin")))
        del self.gcs.buckets["plain"]["m.bin"]
        e = self.assertAmphoraError("not_found", got.download, os.path.join(self.work, "mutable"))
        self.assertIn("was deleted since it was logged", str(e))

    def test_versioned_bucket_serves_the_logged_generation(self):
        self.gcs.put("kept", "model.bin", b"weights v1")
        art = Artifact("gcs-kept", type="model")
        art.add_reference("gs://kept/model.bin")
        got = self.log(art)
        self.gcs.put("kept", "model.bin", b"weights v2")
        root = got.download(os.path.join(self.work, "kept"))
        with open(os.path.join(root, "model.bin"), "rb") as f:
            self.assertEqual(f.read(), b"weights v1")

    def test_composite_object_checked_by_crc32c(self):
        self.gcs.put("plain", "composite.bin", b"joined parts", composite=True)
        art = Artifact("gcs-composite", type="dataset")
        [entry] = art.add_reference("gs://plain/composite.bin")
        self.assertNotIn("md5Hash", entry.extra)
        self.assertEqual(entry.digest, entry.extra["crc32c"])
        got = self.log(art)
        got.download(os.path.join(self.work, "composite"))
        self.gcs.served = lambda data: data[:-1] + b"z"  # same generation, other bytes
        e = self.assertAmphoraError("reference_changed", got.download, os.path.join(self.work, "composite2"))
        self.assertIn("CRC32C was", str(e))
