"""The seeds' tutorial end to end (`import amphora as wandb`), its lineage read back through Api,
and the download cache shared with the TypeScript CLI."""
import json
import os
import pathlib
import subprocess
import sys
import time

import amphora
from amphora import Api, Artifact

from .support import CLI, REPO, ServerTestCase, cached_blob

PIPELINE = os.path.join(REPO, "examples", "tutorial", "pipeline.py")


def require_cli(test, why):
    """Skips without the built CLI locally; in CI (CI set) a missing build fails instead of passing as skipped."""
    if os.path.isfile(CLI):
        return
    message = "dist/cli.mjs is missing (build with `node esbuild.mjs`; npm test does); " + why
    if os.environ.get("CI"):
        test.fail(message + "; CI must not skip this test")
    test.skipTest(message)


class SameDigestAcrossClientsTest:
    """Mixed into TutorialTest (one server for both)."""

    def test_a_folder_logged_by_python_and_by_the_typescript_cli_is_one_version(self):
        require_cli(self, "this compares digests with the TypeScript CLI")
        folder = os.path.join(self.work, "folder")
        for rel, data in {"a.txt": b"a", "sub/\u00e9t\u00e9.csv": "x,y".encode(), "sub/deeper/z.bin": os.urandom(5000),
                          "\uff5e.txt": b"wave", "\U0001f600.txt": b"smile"}.items():
            p = os.path.join(folder, *rel.split("/"))
            os.makedirs(os.path.dirname(p), exist_ok=True)
            pathlib.Path(p).write_bytes(data)
        with amphora.init(project="p-digest", job_type="x") as run:
            art = Artifact("same", type="dataset")
            art.add_dir(folder)
            run.log_artifact(art)
        proc = subprocess.run(["node", CLI, "artifact", "put", folder, "--name", "p-digest/same", "--type", "dataset",
                               "--alias", "from-ts", "--json"], capture_output=True, text=True, timeout=120, cwd=self.work)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        logged = json.loads(proc.stdout)
        self.assertEqual((logged["version"], logged["digest"]), ("v0", art.digest))
        self.assertEqual(sorted(Api().artifact("p-digest/same:from-ts").aliases), ["from-ts", "latest"])


class TutorialTest(SameDigestAcrossClientsTest, ServerTestCase):
    def _run_pipeline(self, folder):
        env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
        started = time.monotonic()
        proc = subprocess.run([sys.executable, PIPELINE, "--dir", os.path.join(self.tmp, folder)], env=env,
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stdout[-2000:] + proc.stderr[-4000:])
        return time.monotonic() - started

    def test_tutorial_pipeline_and_its_lineage(self):
        elapsed = self._run_pipeline("tutorial")
        self.assertLess(elapsed, 30)
        api = Api()
        p = "artifacts-example/"
        raw, pre = api.artifact(p + "mnist-raw:latest"), api.artifact(p + "mnist-preprocess:latest")
        convnet, trained = api.artifact(p + "convnet:latest"), api.artifact(p + "trained-model:latest")
        self.assertEqual([a.version for a in (raw, pre, convnet, trained)], ["v0"] * 4)
        self.assertEqual((raw.type, pre.type, convnet.type, trained.type), ("dataset", "dataset", "model", "model"))
        self.assertEqual(raw.metadata["sizes"], [500, 100, 100])
        self.assertEqual(pre.metadata, {"normalize": True, "expand_dims": True})
        self.assertEqual(sorted(pre.manifest), ["test.pt", "training.pt", "validation.pt"])
        self.assertEqual(convnet.metadata["hidden_layer_sizes"], [32, 64])

        # load-data -> mnist-raw -> preprocess-data -> mnist-preprocess -> train/report
        self.assertEqual(raw.logged_by().job_type, "load-data")
        self.assertEqual([r.job_type for r in raw.used_by()], ["preprocess-data"])
        self.assertEqual(pre.logged_by().id, raw.used_by()[0].id)
        self.assertEqual(sorted(r.job_type for r in pre.used_by()), ["report", "train"])
        self.assertEqual(convnet.logged_by().job_type, "initialize")
        self.assertEqual([r.job_type for r in convnet.used_by()], ["train"])
        train = trained.logged_by()
        self.assertEqual(train.job_type, "train")
        self.assertEqual(sorted(a.name for a in train.used_artifacts()), ["convnet:v0", "mnist-preprocess:v0"])
        self.assertEqual([a.name for a in train.logged_artifacts()], ["trained-model:v0"])
        self.assertEqual(train.config["epochs"], 5)
        self.assertEqual(train.config["pool_sizes"], [2])  # config.update(model_config) reached the server
        self.assertIn("trained_model.pth", [f["path"] for f in train.files()])
        self.assertTrue(any("validation/accuracy" in row for row in train.history()))
        [report] = trained.used_by()
        self.assertEqual(report.job_type, "report")
        self.assertEqual(report.state, "finished")
        self.assertGreater(report.summary["accuracy"], 20)
        [examples] = [row["high-loss-examples"] for row in report.history() if "high-loss-examples" in row]
        self.assertEqual(examples["count"], 32)

        # The same pipeline again: unchanged data and models dedupe to the same versions.
        self._run_pipeline("tutorial-again")
        self.assertEqual(api.artifact(p + "mnist-raw:latest").version, "v0")
        self.assertEqual(api.artifact(p + "mnist-preprocess:latest").version, "v0")
        self.assertEqual(len(api.artifact(p + "mnist-raw:v0").used_by()), 2)

    def test_a_folder_fetched_by_the_typescript_cli_is_a_cache_hit_for_python(self):
        require_cli(self, "cross-client cache reuse needs the TypeScript CLI")
        contents = {"a.bin": os.urandom(200_000), "dir/b.txt": b"shared" * 1000, "dir/c.txt": b"c"}
        with amphora.init(project="p-cross", job_type="x") as run:
            art = Artifact("shared", type="dataset")
            for name, data in contents.items():
                with art.new_file(name, mode="wb") as f:
                    f.write(data)
            run.log_artifact(art)
        shared_cache = os.path.join(self.tmp, "shared-cache")
        env = dict(os.environ, AMPHORA_CACHE_DIR=shared_cache)
        ts_root = os.path.join(self.tmp, "ts-root")
        proc = subprocess.run(["node", CLI, "artifact", "get", "p-cross/shared:v0", "--root", ts_root], env=env,
                              capture_output=True, text=True, timeout=120, cwd=self.work)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        for name, data in contents.items():
            self.assertEqual(pathlib.Path(ts_root, name).read_bytes(), data)
            # As a file of its own or in a pack, whichever this CLI writes: Python reads both.
            self.assertEqual(cached_blob(shared_cache, art.manifest[name]["digest"]), data, name)

        os.environ["AMPHORA_CACHE_DIR"] = shared_cache
        try:
            got = Api().artifact("p-cross/shared:v0")
            py_root = got.download(os.path.join(self.tmp, "py-root"))
            self.assertEqual(got.last_transfer.bytes_downloaded, 0, got.last_transfer)
            self.assertEqual(got.last_transfer.cache_hits, 3)
            for name, data in contents.items():
                self.assertEqual(pathlib.Path(py_root, name).read_bytes(), data)
            # The stat cache is shared too: the files the CLI placed are known unchanged without re-hashing.
            client = amphora.client.get_client()
            hashed_before = client.transfer.stat_cache.hashed
            got.download(ts_root)
            self.assertEqual(got.last_transfer.already_present, 3)
            self.assertEqual(client.transfer.stat_cache.hashed, hashed_before)
        finally:
            os.environ["AMPHORA_CACHE_DIR"] = self.cache_dir

        # And the other way round: what Python fetched, the TypeScript CLI finds in the cache.
        py_cache = os.path.join(self.tmp, "py-cache")
        os.environ["AMPHORA_CACHE_DIR"] = py_cache
        try:
            Api().artifact("p-cross/shared:v0").download(os.path.join(self.tmp, "py-root-2"))
        finally:
            os.environ["AMPHORA_CACHE_DIR"] = self.cache_dir
        proc = subprocess.run(["node", CLI, "artifact", "get", "p-cross/shared:v0", "--root", os.path.join(self.tmp, "ts-root-2"), "--json"],
                              env=dict(os.environ, AMPHORA_CACHE_DIR=py_cache), capture_output=True, text=True, timeout=120, cwd=self.work)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(pathlib.Path(self.tmp, "ts-root-2", "a.bin").read_bytes(), contents["a.bin"])
        report = json.loads(proc.stdout)
        self.assertEqual((report["fetched"], report["fromCache"]), (0, 3), proc.stdout)
