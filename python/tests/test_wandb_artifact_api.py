"""Never drop silently (issue 10, group 2) and the rest of W&B's Artifact / Api surface (group 3),
against a real server."""
import datetime
import hashlib
import os
import time

import amphora
from amphora import Api, Artifact

from .support import ServerTestCase


def sha(data):
    return hashlib.sha256(data).hexdigest()


class NeverDropSilentlyTest(ServerTestCase):
    def test_tags_and_ttl_are_stored_and_saved(self):
        a = Artifact("kept", type="dataset")
        a.add_file(self.write("k.txt", "k"))
        a.tags = ["raw"]
        a.ttl = datetime.timedelta(days=30)
        with amphora.init(project="p-silent", job_type="x") as run:
            run.log_artifact(a, tags=["eu"])
        got = Api().artifact("p-silent/kept:v0")
        self.assertEqual((got.tags, got.ttl), (["raw", "eu"], datetime.timedelta(days=30)))
        got.tags.append("checked")
        got.ttl = None
        got.save()
        again = Api().artifact("p-silent/kept:v0")
        self.assertEqual((again.tags, again.ttl), (["raw", "eu", "checked"], None))
        self.assertEqual(len(Api().artifacts("dataset", "p-silent/kept", tags=["checked"])), 1)
        self.assertEqual(Api().artifacts("dataset", "p-silent/kept", tags=["absent"]), [])

    def test_bad_values_and_unsupported_arguments_raise(self):
        a = Artifact("bad", type="dataset")
        with self.assertRaises(ValueError):
            a.ttl = 30  # W&B wants a timedelta
        with self.assertRaises(ValueError):
            a.tags = "raw"
        self.assertRaises(NotImplementedError, Artifact, "x", "dataset", use_as="input")
        with amphora.init(project="p-silent", job_type="x") as run:
            a.add_file(self.write("b.txt", "b"))
            run.log_artifact(a)
            self.assertRaises(NotImplementedError, run.use_artifact, "bad:latest", use_as="input")
        # Registries exist now (tests/test_registries.py); a target that is no registry says so.
        not_registry = self.assertAmphoraError("not_found", a.link, "registry/models")
        self.assertIn("is not a registry", str(not_registry))
        with amphora.init(project="p-silent", job_type="x") as run:
            self.assertRaises(NotImplementedError, run.define_metric, "loss", hidden=True)

    def test_expired_versions_go_at_gc(self):
        a = Artifact("short", type="dataset")
        a.add_file(self.write("s.txt", "s"))
        a.ttl = datetime.timedelta(seconds=1)
        with amphora.init(project="p-ttl", job_type="x") as run:
            run.log_artifact(a)
        time.sleep(1.2)
        import subprocess
        import json
        from .support import CLI

        out = subprocess.run(["node", CLI, "--json", "gc", "--grace", "0"], env=dict(os.environ), capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(any(r.endswith("/p-ttl/short:v0") for r in json.loads(out.stdout)["expiredVersions"]))
        self.assertFalse(Api().artifact_exists("p-ttl/short:v0"))


class ArtifactSurfaceTest(ServerTestCase):
    def setUp(self):
        self.write("src/a.txt", "alpha")
        self.write("src/sub/b.txt", "beta")

    def logged(self, project, name="surf"):
        a = Artifact(name, type="dataset", metadata={"k": 1})
        self.assertTrue(a.is_draft())
        self.assertEqual(a.state, "PENDING")
        a.add_dir(os.path.join(self.work, "src"))
        t = amphora.Table(columns=["x", "y"], data=[[1, 2]])
        a.add(t, "scores")
        with amphora.init(project=project, job_type="x") as run:
            run.log_artifact(a)
        return Api().artifact(f"{project}/{name}:latest")

    def test_attributes_files_get_verify_checkout(self):
        got = self.logged("p-surf")
        self.assertFalse(got.is_draft())
        self.assertEqual((got.state, got.file_count, got.source_name), ("COMMITTED", 3, "surf:v0"))
        self.assertTrue(got.created_at and got.updated_at)
        self.assertTrue(got.qualified_name.endswith("/p-surf/surf:v0"))
        self.assertIs(got.wait(), got)
        files = got.files()
        self.assertEqual([f.name for f in files], ["a.txt", "scores.table.json", "sub/b.txt"])
        self.assertEqual((files[0].size, files[0].digest), (5, sha(b"alpha")))
        self.assertEqual([f.name for f in got.files(names=["a.txt"])], ["a.txt"])
        table = got.get("scores")
        self.assertEqual((table.columns, table.data), (["x", "y"], [[1, 2]]))
        self.assertIsNone(got.get("absent"))
        root = got.download(os.path.join(self.work, "dl"))
        got.verify(root)
        with open(os.path.join(root, "a.txt"), "w") as f:
            f.write("tampered")
        with self.assertRaises(ValueError):
            got.verify(root)
        with open(os.path.join(root, "stray.txt"), "w") as f:
            f.write("stray")
        got.checkout(root)
        self.assertFalse(os.path.exists(os.path.join(root, "stray.txt")))
        with open(os.path.join(root, "a.txt")) as f:
            self.assertEqual(f.read(), "alpha")
        got.verify(root)
        part = got.download(os.path.join(self.work, "part"), path_prefix="sub/")
        self.assertEqual(os.listdir(part), ["sub"])

    def test_new_draft_incremental_and_remove(self):
        got = self.logged("p-draft")
        draft = got.new_draft()
        self.assertTrue(draft.is_draft())
        draft.remove("sub")  # a folder: every file under it
        with self.assertRaises(FileNotFoundError):
            draft.remove("absent.txt")
        draft.add_file(self.write("c.txt", "gamma"))
        with amphora.init(project="p-draft", job_type="x") as run:
            v1 = run.log_artifact(draft)
        self.assertEqual((v1.version, sorted(f.name for f in v1.files())), ("v1", ["a.txt", "c.txt", "scores.table.json"]))
        inc = Artifact("surf", type="dataset", incremental=True)
        inc.add_file(self.write("d.txt", "delta"))
        with amphora.init(project="p-draft", job_type="x") as run:
            v2 = run.log_artifact(inc)
        self.assertEqual(sorted(f.name for f in v2.files()), ["a.txt", "c.txt", "d.txt", "scores.table.json"])

    def test_api_collections_types_and_run_filters(self):
        self.logged("p-api", "one")
        self.logged("p-api", "two")
        api = Api()
        self.assertEqual([c.name for c in api.artifact_collections("p-api", "dataset")], ["one", "two"])
        coll = api.artifact_collection("dataset", "p-api/one")
        self.assertEqual((coll.name, coll.type, coll.aliases), ("one", "dataset", ["latest"]))
        with self.assertRaises(ValueError):
            api.artifact_collection("model", "p-api/one")
        self.assertEqual([t.name for t in api.artifact_types("p-api")], ["dataset"])
        self.assertEqual([c.name for c in api.artifact_type("dataset", "p-api").collections()], ["one", "two"])
        self.assertTrue(api.artifact_exists("p-api/one:v0"))
        self.assertFalse(api.artifact_exists("p-api/zero:v0"))
        coll.delete()
        self.assertFalse(api.artifact_exists("p-api/one:v0"))
        with amphora.init(project="p-filter", job_type="train", config={"lr": 0.1, "opt": {"name": "adam"}}, tags=["base"]) as r1:
            r1.log({"acc": 0.9})
        with amphora.init(project="p-filter", job_type="eval", config={"lr": 0.01}) as r2:
            r2.log({"acc": 0.5})
        ids = lambda f: sorted(r.id for r in api.runs("p-filter", filters=f))  # noqa: E731
        self.assertEqual(ids({"config.lr": 0.1}), [r1.id])
        self.assertEqual(ids({"config.lr.value": {"$lt": 0.05}}), [r2.id])
        self.assertEqual(ids({"summary_metrics.acc": {"$gte": 0.5}}), sorted([r1.id, r2.id]))
        self.assertEqual(ids({"$or": [{"tags": "base"}, {"jobType": "eval"}]}), sorted([r1.id, r2.id]))
        self.assertEqual(ids({"config.opt.name": {"$regex": "^ad"}, "state": "finished"}), [r1.id])
        self.assertEqual(ids({"tags": {"$in": ["none"]}}), [])
        with self.assertRaises(ValueError):
            api.runs("p-filter", filters={"config.lr": {"$near": 1}})
