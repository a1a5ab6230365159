"""The Python client against a real Amphora server: every call of the surface, dedup, aliases,
references, hostile paths, the cache, distributed versions."""
import hashlib
import http.server
import os
import pathlib
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

import amphora
from amphora import AmphoraError, Api, Artifact, transfer
from amphora.manifest import artifact_digest
from amphora.settings import cached_blob_path

from .support import ServerTestCase, cached_blob, damage_packed_blob, pack_files


def sha(data):
    return hashlib.sha256(data).hexdigest()


class _RefServer(http.server.ThreadingHTTPServer):
    daemon_threads = True


def start_reference_server(files):
    """Serves `files` {path: bytes} with ETags (except paths starting with /noetag)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _head(self):
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return None
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            if not self.path.startswith("/noetag"):
                self.send_header("ETag", f'"{hashlib.md5(body).hexdigest()}"')
            self.end_headers()
            return body

        def do_HEAD(self):
            self._head()

        def do_GET(self):
            body = self._head()
            if body is not None:
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = _RefServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class OpenApiContractTest:
    """Mixed into RunTest (one server for both)."""

    def test_every_request_the_client_makes_is_in_the_servers_openapi_document(self):
        import re
        import urllib.parse

        from amphora.transport import Http

        seen = set()
        real_open = Http.open
        heartbeat_sent = threading.Event()

        def recording_open(http, method, path_or_url, *args, **kwargs):
            split = urllib.parse.urlsplit(path_or_url)
            if path_or_url.startswith("/") or split.netloc == urllib.parse.urlsplit(self.server.url).netloc:
                seen.add((method, split.path))
                if split.path.endswith("/heartbeat"):
                    heartbeat_sent.set()
            return real_open(http, method, path_or_url, *args, **kwargs)

        Http.open = recording_open
        try:
            live_run = sys.modules["amphora.live_run"]
            saved, live_run.HEARTBEAT_INTERVAL_S = live_run.HEARTBEAT_INTERVAL_S, 0.1
            try:
                with amphora.init(project="p-api", job_type="x", group="g", config={"a": 1}) as run:
                    self.assertTrue(heartbeat_sent.wait(timeout=10), "no heartbeat within 10 s")
                    run.config.update({"b": 2})
                    run.log({"m": 1})
                    run.summary.update({"s": 1})
                    self.write("f.txt", "f")
                    run.save("f.txt")
                    a = Artifact("api", type="dataset")
                    a.add_file(self.write("a.txt", "a"))
                    run.log_artifact(a)
                    run.use_artifact("api:latest")
                    part = Artifact("dist", type="dataset")
                    part.add_file(self.write("p.txt", "p"))
                    run.upsert_artifact(part)
                    run.finish_artifact(Artifact("dist", type="dataset"))
            finally:
                live_run.HEARTBEAT_INTERVAL_S = saved
            api = Api()
            got = api.artifact("p-api/api:v0")
            got.download(os.path.join(self.work, "api"))
            got.aliases.append("x")
            got.save()
            got.logged_by().history()
            got.used_by()
            run.logged_artifacts()
            run.used_artifacts()
            run.files()
            api.artifact_versions("dataset", "p-api/api")
            api.runs("p-api")
            got.delete(delete_aliases=True)
        finally:
            Http.open = real_open
        document = client_get_openapi()
        templates = [(m.upper(), re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(p)) + "$"))
                     for p, ops in document["paths"].items() for m in ops]
        unknown = sorted((m, p) for m, p in seen if not any(m == tm and rx.match(p) for tm, rx in templates))
        self.assertEqual(unknown, [])
        self.assertGreaterEqual(len(seen), 20)


def client_get_openapi():
    return amphora.client.get_client().http.get("/api/v1/openapi.json")


class RunTest(OpenApiContractTest, ServerTestCase):
    def test_run_config_summary_history_files_and_finish(self):
        with amphora.init(project="p-run", job_type="train", config={"lr": 0.1}, group="g1", name="my-run") as run:
            self.assertIs(amphora.config, run.config)
            self.assertIs(amphora.run, run)
            self.assertEqual((run.name, run.job_type, run.group, run.project), ("my-run", "train", "g1", "p-run"))
            self.assertEqual(run.config.lr, 0.1)
            self.assertEqual(amphora.config["lr"], 0.1)
            run.config.update({"batch_size": 2})
            run.config.epochs = 3
            self.assertEqual(dict(run.config), {"lr": 0.1, "batch_size": 2, "epochs": 3})
            amphora.log({"loss": 1.0})
            amphora.log({"loss": 0.5, "acc": 0.7}, step=10)
            run.log({"loss": 0.25})
            run.summary["best"] = 1
            run.summary.update({"acc": 0.9})
            self.write("model.bin", b"weights" * 100)
            self.assertEqual(amphora.save("model.bin"), ["model.bin"])
        self.assertTrue(run.finished)
        self.assertIsNone(amphora.sdk.current_run())
        self.assertIsNone(amphora.run)
        got = Api().run(run.path)
        self.assertEqual(got.state, "finished")
        self.assertEqual(got.config, {"lr": 0.1, "batch_size": 2, "epochs": 3})
        self.assertEqual(got.summary["loss"], 0.25)
        self.assertEqual((got.summary["best"], got.summary["acc"]), (1, 0.9))
        # W&B's step rule: log(step=10) opens step 10, the next log() without step joins it and commits.
        self.assertEqual([(r["_step"], r["loss"], r.get("acc")) for r in got.history()], [(0, 1.0, None), (10, 0.25, 0.7)])
        self.assertIn({"path": "model.bin", "digest": sha(b"weights" * 100), "size": 700}, got.files())
        self.assertEqual(Api().run("p-run/" + run.id).id, run.id)
        self.assertAmphoraError("invalid_request", run.log, {"x": 1})

    def test_heartbeat_thread_beats_until_finish(self):
        live_run = sys.modules["amphora.live_run"]
        saved = live_run.HEARTBEAT_INTERVAL_S
        live_run.HEARTBEAT_INTERVAL_S = 0.2  # the real interval is 10 s
        try:
            run = amphora.init(project="p-hb", job_type="x", reinit=True)
            self.assertTrue(run._heartbeat.daemon)
            first = Api().run(run.path).heartbeat_at
            deadline = time.monotonic() + 10
            while Api().run(run.path).heartbeat_at == first and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertGreater(Api().run(run.path).heartbeat_at, first)
            run.finish()
            run._heartbeat.join(timeout=5)
            self.assertFalse(run._heartbeat.is_alive())
        finally:
            live_run.HEARTBEAT_INTERVAL_S = saved

    def test_exception_inside_the_with_block_marks_the_run_failed(self):
        with self.assertRaises(ZeroDivisionError):
            with amphora.init(project="p-run", job_type="crashy") as run:
                1 / 0
        self.assertEqual(Api().run(run.path).state, "failed")

    def test_reinit_and_module_level_calls_need_a_run(self):
        self.assertAmphoraError("invalid_request", amphora.log, {"x": 1})
        first = amphora.init(project="p-run")
        self.assertIs(amphora.init(project="p-run"), first)  # no reinit: the live run
        second = amphora.init(project="p-run", reinit=True)
        self.assertIsNot(second, first)
        self.assertTrue(first.finished)
        amphora.finish()
        self.assertEqual(Api().run(second.path).state, "finished")

    def test_images_and_tables_are_logged_as_run_files(self):
        with amphora.init(project="p-media", job_type="report") as run:
            class Array:  # what numpy/torch arrays offer
                def tolist(self):
                    return [[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], [[0.0, 0.0, 1.0], [1.0, 1.0, 1.0]]]

            amphora.log({"rgb": amphora.Image(Array())}, step=0)
            amphora.log({"examples": [amphora.Image([[[0.0] * 4] * 4], caption="7,1"), amphora.Image([[0, 255], [255, 0]])],
                         "table": amphora.Table(columns=["a", "b"], data=[[1, 2], [3, 4]])})
        got = Api().run(run.path)
        history = got.history()
        # W&B's step rule: the call without step= joins step 0 and commits it.
        self.assertEqual([r["_step"] for r in history], [0])
        row = history[0]
        self.assertEqual(row["examples"]["count"], 2)
        self.assertEqual(row["examples"]["items"][0]["caption"], "7,1")
        self.assertEqual(row["table"]["nrows"], 2)
        paths = {f["path"] for f in got.files()}
        self.assertTrue({row["examples"]["items"][0]["path"], row["examples"]["items"][1]["path"], row["table"]["path"]} <= paths)
        self.assertTrue(row["examples"]["items"][1]["path"].endswith(".png"))
        self.assertEqual((row["rgb"]["width"], row["rgb"]["height"]), (2, 2))

    def test_project_defaults_come_from_the_environment_then_the_server(self):
        os.environ["AMPHORA_PROJECT"] = "p-env"
        try:
            with amphora.init(job_type="x") as run:
                self.assertEqual(run.project, "p-env")
        finally:
            os.environ.pop("AMPHORA_PROJECT")
        with amphora.init(job_type="x") as run:
            self.assertEqual(run.project, amphora.client.get_client().viewer()["defaultProject"])
        self.assertAmphoraError("invalid_name", amphora.init, project="bad project")

    def test_discovery_file_is_used_when_no_url_is_set(self):
        saved = {k: os.environ.pop(k) for k in ("AMPHORA_BASE_URL", "AMPHORA_API_KEY")}
        os.environ["AMPHORA_DATA_DIR"] = self.server.data_dir
        try:
            with amphora.init(project="p-disc", job_type="x") as run:
                self.assertTrue(run.id)
        finally:
            os.environ.pop("AMPHORA_DATA_DIR")
            os.environ.update(saved)


class ArtifactTest(ServerTestCase):
    def _dataset(self, version_text="one"):
        self.write("data/train.csv", "a,b\n1,2\n")
        self.write("data/nested/deep.bin", b"\x00\x01" * 5000)
        self.write("readme.txt", version_text)
        art = Artifact("ds", type="dataset", description="a dataset", metadata={"sizes": [1, 2]})
        art.add_file("readme.txt")
        art.add_file("readme.txt", name="docs/README")
        art.add_dir("data", name="data")
        with art.new_file("notes.txt") as f:
            f.write("notes \u00e9")
        with art.new_file("blob.bin", mode="wb") as f:
            f.write(os.urandom(0) + b"\xff" * 3000)
        return art

    def test_log_dedup_aliases_download_and_cache(self):
        run = amphora.init(project="p-art", job_type="load-data", reinit=True)
        art = self._dataset()
        expected = {
            "readme.txt": b"one", "docs/README": b"one", "data/train.csv": b"a,b\n1,2\n",
            "data/nested/deep.bin": b"\x00\x01" * 5000, "notes.txt": "notes \u00e9".encode(), "blob.bin": b"\xff" * 3000,
        }
        local_digest = artifact_digest({p: {"digest": sha(b), "size": len(b)} for p, b in expected.items()})
        self.assertEqual(art.digest, local_digest)
        run.log_artifact(art, aliases=["best"])
        self.assertEqual(art.version, "v0")
        self.assertEqual(art.digest, local_digest)
        self.assertEqual(art.size, sum(len(b) for b in expected.values()))
        self.assertEqual(sorted(art.aliases), ["best", "latest"])
        self.assertEqual(art.metadata, {"sizes": [1, 2]})
        self.assertEqual(art.description, "a dataset")
        self.assertEqual(art.last_transfer.files_uploaded, 5)  # readme twice: one blob

        # Unchanged content: the same version, nothing uploaded, latest and aliases applied to it.
        again = run.log_artifact(self._dataset(), aliases=["again"])
        self.assertEqual((again.version, again.last_transfer.bytes_uploaded), ("v0", 0))
        self.assertIn("again", again.aliases)

        changed = run.log_artifact(self._dataset("two"), aliases=["latest", "best-ap50"])  # the walkthrough's call
        self.assertEqual(changed.version, "v1")
        self.assertEqual(changed.last_transfer.files_uploaded, 1)
        self.assertEqual(sorted(changed.aliases), ["best-ap50", "latest"])
        api = Api()
        self.assertEqual(api.artifact("p-art/ds:best").version, "v0")
        self.assertEqual(api.artifact("p-art/ds").version, "v1")
        self.assertEqual(api.artifact("p-art/ds:v0").digest, local_digest)
        self.assertEqual(sorted(v.version for v in api.artifact_versions("dataset", "p-art/ds")), ["v0", "v1"])
        self.assertAmphoraError("type_mismatch", api.artifact_versions, "model", "p-art/ds")
        run.finish()

        # Download: default root, verified content; the second time nothing moves.
        v0 = api.artifact("p-art/ds:v0")
        root = v0.download()
        self.assertEqual(os.path.abspath(root), os.path.join(self.work, "artifacts", "ds:v0"))
        for p, b in expected.items():
            self.assertEqual(pathlib.Path(root, p).read_bytes(), b, p)
        self.assertEqual(v0.download(), root)
        amphora.artifact._WINDOWS = True  # ':' is not allowed in Windows file names
        try:
            self.assertEqual(v0._default_root(), os.path.join(".", "artifacts", "ds-v0"))
        finally:
            amphora.artifact._WINDOWS = False
        self.assertEqual(v0.last_transfer.bytes_downloaded, 0)
        self.assertEqual(v0.last_transfer.already_present, 6)
        other = v0.download(os.path.join(self.work, "elsewhere"))
        self.assertEqual(v0.last_transfer.bytes_downloaded, 0)
        self.assertEqual(v0.last_transfer.cache_hits, 6)
        self.assertEqual(pathlib.Path(other, "data/train.csv").read_bytes(), b"a,b\n1,2\n")

        # A damaged cache blob is noticed and fetched again. Small blobs are packed: the damage
        # drops the whole pack, and the blobs it held that are still wanted come from the server.
        blob = sha(b"\xff" * 3000)
        self.assertFalse(os.path.exists(cached_blob_path(self.cache_dir, blob)))
        pack = damage_packed_blob(self.cache_dir, blob)
        fresh = os.path.join(self.work, "fresh")
        v0.download(fresh)
        for p, b in expected.items():
            self.assertEqual(pathlib.Path(fresh, p).read_bytes(), b, p)
        self.assertFalse(os.path.exists(pack))
        self.assertGreaterEqual(v0.last_transfer.bytes_downloaded, 3000)
        self.assertEqual(v0.last_transfer.cache_hits + v0.last_transfer.files_downloaded, 6)
        self.assertEqual(cached_blob(self.cache_dir, blob), b"\xff" * 3000)
        # A damaged blob file (the older layout) is removed and fetched again as well.
        cached = cached_blob_path(self.cache_dir, blob)
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        pathlib.Path(cached).write_bytes(b"garbage")
        for pack in pack_files(self.cache_dir):
            os.remove(pack)
        fresh = os.path.join(self.work, "fresh-2")
        v0.download(fresh)
        self.assertEqual(pathlib.Path(fresh, "blob.bin").read_bytes(), b"\xff" * 3000)
        self.assertFalse(os.path.exists(cached))
        self.assertEqual(cached_blob(self.cache_dir, blob), b"\xff" * 3000)

        # Single files.
        entry = v0.get_path("data/nested/deep.bin")
        self.assertEqual((entry.size, entry.digest, entry.ref()), (10000, sha(b"\x00\x01" * 5000), None))
        single = entry.download(os.path.join(self.work, "single"))
        self.assertEqual(pathlib.Path(single).read_bytes(), b"\x00\x01" * 5000)
        self.assertFalse(os.path.exists(os.path.join(self.work, "single", "readme.txt")))
        self.assertAmphoraError("not_found", v0.get_path, "nope.txt")

    def test_type_of_a_name_is_fixed_and_empty_artifacts_are_logged(self):
        with amphora.init(project="p-type", job_type="x") as run:
            a = Artifact("thing", type="dataset")
            a.add_file(self.write("t.txt", "t"))
            run.log_artifact(a)
            b = Artifact("thing", type="model")
            b.add_file(self.write("t2.txt", "t2"))
            self.assertAmphoraError("type_mismatch", run.log_artifact, b)
            empty = run.log_artifact(Artifact("empty", type="dataset"))  # W&B allows an empty artifact
            self.assertEqual((empty.version, empty.file_count), ("v0", 0))
            self.assertAmphoraError("invalid_request", run.log_artifact, a)  # already logged
            self.assertAmphoraError("invalid_alias", run.log_artifact, Artifact("x", "dataset"), aliases=["v3"])

    def test_updates_aliases_and_delete(self):
        with amphora.init(project="p-upd", job_type="x") as run:
            for i in range(3):
                a = Artifact("m", type="model", metadata={"i": i})
                a.add_file(self.write("m.bin", f"model {i}"))
                run.log_artifact(a)
        api = Api()
        art = api.artifact("p-upd/m:v1")
        art.description = "My new description"
        art.metadata["oldKey"] = "new value"
        art.aliases.append("best")
        art.save()
        got = api.artifact("p-upd/m:best")
        self.assertEqual((got.version, got.description, got.metadata), ("v1", "My new description", {"i": 1, "oldKey": "new value"}))
        got.metadata = {"newKey": "new value"}
        got.aliases = ["replaced"]
        got.save()
        again = api.artifact("p-upd/m:v1")
        self.assertEqual((again.metadata, again.aliases), ({"newKey": "new value"}, ["replaced"]))
        self.assertAmphoraError("not_found", api.artifact, "p-upd/m:best")
        self.assertAmphoraError("aliased_version", again.delete)
        again.delete(delete_aliases=True)
        self.assertEqual(again.state, "DELETED")
        plain = api.artifact("p-upd/m:v0")
        plain.delete()
        # The seeds' cleanup loop: delete every version without an alias.
        remaining = api.artifact_versions("model", "p-upd/m")
        self.assertEqual([v.version for v in remaining if v.state != "DELETED"], ["v2"])
        self.assertEqual(api.artifact("p-upd/m:latest").version, "v2")

    def test_lineage_and_use_artifact(self):
        with amphora.init(project="p-lin", job_type="load-data") as producer:
            raw = Artifact("raw", type="dataset")
            raw.add_file(self.write("raw.txt", "raw"))
            amphora.log_artifact(raw)
        with amphora.init(project="p-lin", job_type="preprocess-data") as consumer:
            used = consumer.use_artifact("raw:latest")
            self.assertEqual(used.version, "v0")
            self.assertIs(consumer.use_artifact("p-lin/raw:v0"), used)  # idempotent
            amphora.use_artifact(Api().artifact("p-lin/raw:v0"))  # by Artifact object
            local = Artifact("reference-model", type="model")
            local.add_file(self.write("ref.h5", "h5"))
            consumer.use_artifact(local)  # a draft is logged, then used
            self.assertEqual(local.version, "v0")
            self.assertAmphoraError("not_found", consumer.use_artifact, "missing:latest")
            self.assertAmphoraError("invalid_reference", consumer.use_artifact, "bad name:latest")
            out = Artifact("clean", type="dataset")
            out.add_file(self.write("clean.txt", "clean"))
            consumer.log_artifact(out)
        self.assertEqual(sorted(a.name for a in consumer.used_artifacts()), ["raw:v0", "reference-model:v0"])
        self.assertEqual([a.name for a in consumer.logged_artifacts()], ["clean:v0"])
        self.assertEqual([a.name for a in producer.logged_artifacts()], ["raw:v0"])
        v = Api().artifact("p-lin/raw:v0")
        self.assertEqual(v.logged_by().id, producer.id)
        self.assertEqual([r.id for r in v.used_by()], [consumer.id])
        self.assertIsNone(Api().artifact("p-lin/reference-model").logged_by())
        self.assertEqual(Api().artifact("p-lin/clean").logged_by().job_type, "preprocess-data")

    def test_references_http_and_file(self):
        files = {"/data/a.csv": b"x,y\n1,2\n", "/noetag/b.csv": b"no etag"}
        server, base = start_reference_server(files)
        try:
            self.write("local/one.txt", "one")
            self.write("local/sub/two.txt", "two")
            with amphora.init(project="p-ref", job_type="x") as run:
                art = Artifact("refs", type="dataset")
                [http_entry] = art.add_reference(base + "/data/a.csv")
                self.assertEqual(http_entry.path, "a.csv")
                self.assertEqual((http_entry.digest, http_entry.size), (hashlib.md5(files["/data/a.csv"]).hexdigest(), 8))
                art.add_reference(pathlib.Path(self.work, "local", "one.txt").as_uri(), name="single.txt")
                art.add_reference(pathlib.Path(self.work, "local").as_uri(), name="tree")
                [loose] = art.add_reference(base + "/noetag/b.csv", name="loose.csv", checksum=False)
                self.assertEqual(loose.digest, base + "/noetag/b.csv")
                self.assertAmphoraError("invalid_reference", art.add_reference, base + "/noetag/b.csv")
                self.assertAmphoraError("invalid_reference", art.add_reference, base + "/missing")
                self.assertAmphoraError("unsupported", art.add_reference, "ftp://host/key")
                run.log_artifact(art)
            self.assertEqual(art.last_transfer.bytes_uploaded, 0)  # references store no bytes
            got = Api().artifact("p-ref/refs")
            self.assertEqual(sorted(got.manifest), ["a.csv", "loose.csv", "single.txt", "tree/one.txt", "tree/sub/two.txt"])
            self.assertEqual(got.get_path("a.csv").ref(), base + "/data/a.csv")
            # The reference server is on loopback: downloads refuse it until the user allows the host.
            host = urllib.parse.urlsplit(base).hostname
            e = self.assertAmphoraError("invalid_reference", got.download, os.path.join(self.work, "r0"))
            self.assertIn("AMPHORA_REFERENCE_HOSTS=" + host, str(e))
            os.environ["AMPHORA_REFERENCE_HOSTS"] = host
            self.addCleanup(os.environ.pop, "AMPHORA_REFERENCE_HOSTS", None)
            root = got.download()
            self.assertEqual(pathlib.Path(root, "a.csv").read_bytes(), b"x,y\n1,2\n")
            self.assertEqual(pathlib.Path(root, "tree/sub/two.txt").read_text(), "two")
            self.assertEqual(pathlib.Path(root, "loose.csv").read_bytes(), b"no etag")
            # The external objects change: downloads say so instead of handing out other bytes.
            files["/data/a.csv"] = b"changed"
            e = self.assertAmphoraError("reference_changed", got.get_path("a.csv").download, os.path.join(self.work, "r2"))
            self.assertIn("changed since it was logged", str(e))
            self.write("local/sub/two.txt", "TWO")
            self.assertAmphoraError("reference_changed", got.get_path("tree/sub/two.txt").download, os.path.join(self.work, "r3"))
            self.assertFalse(os.path.exists(os.path.join(self.work, "r3", "tree", "sub", "two.txt")))
        finally:
            server.shutdown()
            server.server_close()

    def test_hostile_paths(self):
        art = Artifact("hostile", type="dataset")
        for bad in ["../escape.txt", "/etc/passwd", "a/../../b", "a\\b", "a\x00b", "C:/x", ""]:
            self.assertAmphoraError("invalid_path", art.new_file, bad)
            self.assertAmphoraError("invalid_path", art.add_file, self.write("h.txt", "h"), name=bad)
        art.add_file(self.write("h.txt", "h"), name="a")
        self.assertAmphoraError("invalid_path", art.add_file, self.write("h.txt", "h"), name="a/b")
        # add_dir refuses links that lead out of the folder.
        outside = self.write("outside/secret.txt", "secret")
        os.makedirs(os.path.join(self.work, "linked"), exist_ok=True)
        os.symlink(outside, os.path.join(self.work, "linked", "secret.txt"))
        e = self.assertAmphoraError("invalid_path", Artifact("l", "dataset").add_dir, os.path.join(self.work, "linked"))
        self.assertIn("outside", str(e))
        os.makedirs(os.path.join(self.work, "linked2"), exist_ok=True)
        os.symlink(os.path.join(self.work, "outside"), os.path.join(self.work, "linked2", "dir"))
        self.assertAmphoraError("invalid_path", Artifact("l", "dataset").add_dir, os.path.join(self.work, "linked2"))
        # A link back up inside the folder does not loop forever.
        self.write("cyclic/a.txt", "a")
        os.symlink(os.path.join(self.work, "cyclic"), os.path.join(self.work, "cyclic", "again"))
        looped = Artifact("c", "dataset")
        looped.add_dir(os.path.join(self.work, "cyclic"))
        self.assertEqual(sorted(looped.manifest), ["a.txt"])
        # A link planted inside the download root never carries a write outside it.
        with amphora.init(project="p-hostile", job_type="x") as run:
            ok = Artifact("safe", type="dataset")
            ok.add_file(self.write("payload.txt", "payload"), name="sub/payload.txt")
            ok.add_file(self.write("payload.txt", "payload"), name="sub/deeper/more.txt")
            run.log_artifact(ok)
        target = os.path.join(self.work, "victim")
        os.makedirs(target)
        root = os.path.join(self.work, "planted")
        os.makedirs(root)
        os.symlink(target, os.path.join(root, "sub"))
        self.assertAmphoraError("invalid_path", Api().artifact("p-hostile/safe").download, root)
        self.assertEqual(os.listdir(target), [])
        for bad in ["a/b/c/d", "x:", "x:v01", "bad name"]:
            self.assertAmphoraError("invalid_reference", Api().artifact, bad)
        self.assertAmphoraError("invalid_name", Artifact, "bad name", "dataset")
        self.assertAmphoraError("invalid_type", Artifact, "ok", "bad type")

    def test_many_files_move_in_parallel(self):
        folder = os.path.join(self.work, "many")
        for i in range(300):
            self.write(f"many/f{i:03d}.txt", f"file {i}")
        with amphora.init(project="p-many", job_type="x") as run:
            art = Artifact("many", type="dataset")
            art.add_dir(folder)
            run.log_artifact(art)
        self.assertEqual(art.last_transfer.files_uploaded, 300)
        # Keep-alive: one connection per transfer thread (plus the caller's and those of the
        # threads sending groups while hashing goes on), not one per file.
        client = amphora.client.get_client()
        self.assertLessEqual(len(client.http._all), client.transfer.workers + transfer.UPLOAD_GROUPS_IN_FLIGHT + 3)
        # Logging the unchanged folder again: no file is re-hashed (stat cache), nothing uploaded, same version.
        stat_cache = amphora.client.get_client().transfer.stat_cache
        hashed = stat_cache.hashed
        with amphora.init(project="p-many", job_type="x") as run:
            again = Artifact("many", type="dataset")
            again.add_dir(folder)
            run.log_artifact(again)
        self.assertEqual((again.version, again.last_transfer.bytes_uploaded, stat_cache.hashed), ("v0", 0, hashed))
        os.environ["AMPHORA_CACHE_DIR"] = os.path.join(self.tmp, "cache-many")
        try:
            got = Api().artifact("p-many/many")
            root = got.download(os.path.join(self.work, "many-out"))
            self.assertEqual(got.last_transfer.files_downloaded, 300)
            self.assertEqual(pathlib.Path(root, "f123.txt").read_text(), "file 123")
        finally:
            os.environ["AMPHORA_CACHE_DIR"] = self.cache_dir

    def test_big_files_are_streamed_not_loaded_whole(self):
        big = os.path.join(self.work, "big.bin")
        with open(big, "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(120):
                f.write(block)
        cache_dir, out_dir = os.path.join(self.tmp, "cache-big"), os.path.join(self.work, "big-out")
        script = (
            "import os, resource, amphora\n"
            "with amphora.init(project='p-big', job_type='x') as run:\n"
            "    a = amphora.Artifact('big', type='dataset')\n"
            f"    a.add_file({big!r})\n"
            "    run.log_artifact(a)\n"
            f"os.environ['AMPHORA_CACHE_DIR'] = {cache_dir!r}\n"
            "got = amphora.Api().artifact('p-big/big')\n"
            f"got.download({out_dir!r})\n"
            "assert got.last_transfer.bytes_downloaded == 120 << 20, got.last_transfer\n"
            # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking test process
            # across exec (a test run holding ~100 MiB made this child look that big).
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')] if os.path.exists('/proc/self/status') else []\n"
            "print(int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        )
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(amphora.__file__))))
        proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        peak_mib = int(proc.stdout.split()[-1]) / 1024
        self.assertLess(peak_mib, 64, f"peak RSS {peak_mib:.0f} MiB while moving a 120 MiB file")
        self.assertEqual(os.path.getsize(os.path.join(self.work, "big-out", "big.bin")), 120 << 20)

    def test_blob_negotiation_is_batched(self):
        from amphora import transfer

        saved = transfer.NEGOTIATE_BATCH
        transfer.NEGOTIATE_BATCH = 2  # the real limit is 10,000 (the server refuses more per call)
        client = amphora.client.get_client()
        calls = []
        real_post = client.http.post

        def counting_post(path, body=None, query=None):
            if path.endswith("/blobs/negotiate"):
                calls.append(len(body["blobs"]))
            return real_post(path, body, query)

        client.http.post = counting_post
        try:
            with amphora.init(project="p-batch", job_type="x") as run:
                art = Artifact("batched", type="dataset")
                for i in range(5):
                    art.add_file(self.write(f"b{i}.txt", f"batch {i}"))
                run.log_artifact(art)
        finally:
            transfer.NEGOTIATE_BATCH = saved
            del client.http.post
        self.assertEqual(saved, 10_000)
        self.assertEqual(calls, [2, 2, 1])
        self.assertEqual(art.last_transfer.files_uploaded, 5)
        root = Api().artifact("p-batch/batched").download(os.path.join(self.work, "batched"))
        self.assertEqual(pathlib.Path(root, "b4.txt").read_text(), "batch 4")

    def test_unchanged_folder_logged_again_skips_negotiation_and_a_server_lacking_blobs_gets_them(self):
        from tests.support import ServerProcess

        folder = os.path.join(self.work, "again")
        os.makedirs(folder)
        for i in range(3):
            self.write(f"again/f{i}.txt", f"again {i}")
        calls = []

        def log(project):
            client = amphora.client.get_client()
            real_post = client.http.post

            def counting_post(path, body=None, query=None):
                calls.append(path.rsplit("/", 2)[-2:] if path.endswith("/versions") else path.rsplit("/", 1)[-1])
                return real_post(path, body, query)

            client.http.post = counting_post
            try:
                with amphora.init(project=project, job_type="x") as run:
                    art = Artifact("again", type="dataset")
                    art.add_dir(folder)
                    run.log_artifact(art)
            finally:
                del client.http.post
            return art

        first = log("p-again")
        self.assertIn("negotiate", calls)
        calls.clear()
        again = log("p-again")
        self.assertNotIn("negotiate", calls, "every file was known to the stat cache: nothing to ask before the commit")
        self.assertEqual((again.version, again.last_transfer.files_uploaded), (first.version, 0))
        # Another server has none of the blobs: its commit answers missing_blobs, the client
        # negotiates and uploads them, and commits again.
        other = ServerProcess(os.path.join(self.tmp, "other-data"))
        saved = {k: os.environ.get(k) for k in ("AMPHORA_BASE_URL", "AMPHORA_API_KEY")}
        os.environ.update(AMPHORA_BASE_URL=other.url, AMPHORA_API_KEY=other.api_key)
        try:
            calls.clear()
            moved = log("p-again")
            self.assertEqual(calls.count(["again", "versions"]), 2, calls)
            self.assertIn("negotiate", calls)
            self.assertEqual((moved.version, moved.last_transfer.files_uploaded), ("v0", 3))
            root = Api().artifact("p-again/again:v0").download(os.path.join(self.work, "again-out"))
            self.assertEqual(pathlib.Path(root, "f2.txt").read_text(), "again 2")
        finally:
            amphora.finish()
            for k, v in saved.items():
                os.environ[k] = v
            other.stop()

    def test_download_into_a_new_root_is_built_aside_and_renamed_into_place(self):
        import stat as stat_mod

        with amphora.init(project="p-fresh", job_type="x") as run:
            art = Artifact("fresh", type="dataset")
            for i in range(3):
                art.add_file(self.write(f"fresh{i}.txt", f"fresh {i}"), name=f"sub/f{i}.txt")
            run.log_artifact(art)
        parent = os.path.join(self.work, "fresh-parent")
        os.makedirs(parent)
        from amphora import transfer

        replaced = []
        real = transfer._write_replace
        transfer._write_replace = lambda target, data: (replaced.append(target), real(target, data))[1]
        try:
            root = Api().artifact("p-fresh/fresh:v0").download(os.path.join(parent, "root"))
        finally:
            transfer._write_replace = real
        self.assertEqual([t for t in replaced if t.startswith(parent)], [], "files of a new root are written directly, not through temp files")
        self.assertEqual(os.listdir(parent), ["root"], "no staging folder left beside it")
        umask = os.umask(0)
        os.umask(umask)
        self.assertEqual(stat_mod.S_IMODE(os.stat(root).st_mode), 0o777 & ~umask, "the root gets the usual mode, not a temp folder's 0700")
        self.assertEqual(pathlib.Path(root, "sub", "f2.txt").read_text(), "fresh 2")
        # The stat cache knows the files under their final names: a second download hashes nothing.
        stat_cache = amphora.client.get_client().transfer.stat_cache
        hashed = stat_cache.hashed
        again = Api().artifact("p-fresh/fresh:v0")
        again.download(root)
        self.assertEqual((again.last_transfer.already_present, stat_cache.hashed), (3, hashed))

    def test_distributed_versions_by_run_group(self):
        for i in range(3):
            with amphora.init(project="p-dist", group="writers") as run:
                part = Artifact("parallel-artifact", type="dataset")
                part.add(amphora.Table(columns=["a", "b", "c"], data=[[i, i * 2, 2 ** i]]), f"parts/table_{i}")
                run.upsert_artifact(part)
        with amphora.init(project="p-dist", group="writers") as run:
            clash = Artifact("parallel-artifact", type="dataset")
            clash.add(amphora.Table(columns=["a"], data=[["other"]]), "parts/table_0")
            self.assertAmphoraError("conflict", run.upsert_artifact, clash)
            final = Artifact("parallel-artifact", type="dataset")
            final.add(amphora.data_types.PartitionedTable("parts"), "distributed_table")
            run.finish_artifact(final)
        self.assertEqual(final.version, "v0")
        self.assertEqual(sorted(final.manifest), ["distributed_table.partitioned-table.json", "parts/table_0.table.json",
                                                   "parts/table_1.table.json", "parts/table_2.table.json"])
        with amphora.init(project="p-dist") as run:
            self.assertAmphoraError("invalid_request", run.upsert_artifact, final)


class UnreachableTest(unittest.TestCase):
    def test_no_server_gives_a_clear_error_with_how_to_start_one(self):
        import socket
        import tempfile

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        saved = {k: os.environ.get(k) for k in ("AMPHORA_BASE_URL", "AMPHORA_API_KEY", "AMPHORA_DATA_DIR")}
        try:
            os.environ["AMPHORA_BASE_URL"] = f"http://127.0.0.1:{port}"
            os.environ["AMPHORA_API_KEY"] = "k"
            with self.assertRaises(AmphoraError) as ctx:
                amphora.init(project="p")
            self.assertEqual(ctx.exception.code, "server_unreachable")
            self.assertIn("amphora serve", str(ctx.exception))
            self.assertIn("ECONNREFUSED", str(ctx.exception))
            os.environ.pop("AMPHORA_BASE_URL")
            os.environ.pop("AMPHORA_API_KEY")
            with tempfile.TemporaryDirectory() as empty:
                os.environ["AMPHORA_DATA_DIR"] = empty
                with self.assertRaises(AmphoraError) as ctx:
                    Api().artifact("x:latest")
                self.assertEqual(ctx.exception.code, "server_unreachable")
                self.assertIn(os.path.join(empty, "server.json"), str(ctx.exception))
                self.assertIn("npm start", str(ctx.exception))
                os.environ["AMPHORA_BASE_URL"] = f"http://127.0.0.1:{port}"
                with self.assertRaises(AmphoraError) as ctx:
                    Api().artifact("x:latest")
                self.assertEqual(ctx.exception.code, "unauthorized")
                self.assertIn("AMPHORA_API_KEY", str(ctx.exception))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


if __name__ == "__main__":
    unittest.main()
