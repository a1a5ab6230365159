"""W&B's documented semantics for the calls the Python client shares with it (issue 10, group 1),
against a real server."""
import json
import os
import subprocess
import warnings

import amphora
from amphora import Api, Artifact, AmphoraError
from amphora.errors import CommError

from .support import CLI, ServerTestCase, cached_blob


class DeleteAndLatestTest(ServerTestCase):
    def log(self, project, name, content, aliases=None):
        with amphora.init(project=project, job_type="log") as run:
            a = Artifact(name, type="model")
            with a.new_file("w.bin", mode="wb") as f:
                f.write(content)
            return run.log_artifact(a, aliases=aliases)

    def test_a_version_holding_only_latest_is_not_deleted_without_delete_aliases(self):
        self.log("p-del", "m", b"0")
        self.log("p-del", "m", b"1")
        api = Api()
        latest = api.artifact("p-del/m:v1")
        self.assertEqual(latest.aliases, ["latest"])
        err = self.assertAmphoraError("aliased_version", latest.delete)
        self.assertIsInstance(err, CommError)
        self.assertIn("latest", str(err))
        # The walkthrough's cleanup loop: versions without aliases go, the one holding latest stays.
        for v in api.artifact_versions("model", "p-del/m"):
            if len(v.aliases) == 0:
                v.delete()
        self.assertEqual([v.version for v in api.artifact_versions("model", "p-del/m")], ["v1"])
        latest.delete(delete_aliases=True)
        self.assertEqual(latest.state, "DELETED")

    def test_removing_latest_by_hand_and_save(self):
        self.log("p-unlatest", "m", b"0")
        v0 = Api().artifact("p-unlatest/m:v0")
        v0.aliases.remove("latest")
        v0.save()
        self.assertEqual(Api().artifact("p-unlatest/m:v0").aliases, [])
        self.assertFalse(Api().artifact_exists("p-unlatest/m:latest"))
        v0.delete()  # no alias left, so no delete_aliases needed
        self.log("p-unlatest", "m", b"1")
        self.assertEqual(Api().artifact("p-unlatest/m:latest").version, "v1")


class DraftRulesTest(ServerTestCase):
    def test_new_file_defaults_to_exclusive_mode(self):
        a = Artifact("nf", type="dataset")
        with a.new_file("notes.txt") as f:
            f.write("one")
        with self.assertRaises(ValueError) as ctx:
            a.new_file("notes.txt")
        self.assertIn('mode="w"', str(ctx.exception))
        with a.new_file("notes.txt", mode="w") as f:
            f.write("two")
        with amphora.init(project="p-nf", job_type="x") as run:
            run.log_artifact(a)
        root = Api().artifact("p-nf/nf:latest").download(os.path.join(self.work, "nf"))
        with open(os.path.join(root, "notes.txt")) as f:
            self.assertEqual(f.read(), "two")

    def test_same_path_twice_needs_overwrite(self):
        one, two = self.write("one.txt", "1"), self.write("two.txt", "2")
        a = Artifact("ow", type="dataset")
        a.add_file(one, name="x.txt")
        a.add_file(self.write("copy-of-one.txt", "1"), name="x.txt")  # same content: fine, as in W&B
        with self.assertRaises(ValueError) as ctx:
            a.add_file(two, name="x.txt")
        self.assertIn("overwrite=True", str(ctx.exception))
        with self.assertRaises(ValueError):
            with a.new_file("x.txt") as f:
                f.write("3")
        a.add_file(two, name="x.txt", overwrite=True)
        self.assertEqual(a.manifest["x.txt"]["size"], 1)
        self.write("d/x.txt", "other")
        with self.assertRaises(ValueError):
            a.add_dir(os.path.join(self.work, "d"))
        a.add_dir(os.path.join(self.work, "d"), merge=True)
        self.assertEqual(a.manifest["x.txt"]["size"], 5)
        self.assertRaises(ValueError, a.add_file, one, policy="sometimes")


class LoggingSignaturesTest(ServerTestCase):
    def test_log_artifact_of_a_path_with_name_type_and_tags(self):
        self.write("data/a.csv", "a")
        with amphora.init(project="p-path", job_type="x") as run:
            logged = run.log_artifact(os.path.join(self.work, "data"), name="raw", type="dataset", aliases=["best"], tags=["eu"])
            by_default = amphora.log_artifact(os.path.join(self.work, "data", "a.csv"))
        self.assertEqual((logged.version, logged.type, sorted(logged.aliases), logged.tags), ("v0", "dataset", ["best", "latest"], ["eu"]))
        self.assertEqual((by_default.name, by_default.type), (f"run-{run.id}-a.csv:v0", "unspecified"))
        self.assertEqual(Api().artifact("p-path/raw:best").tags, ["eu"])

    def test_upsert_and_finish_with_w_and_b_positional_order(self):
        with amphora.init(project="p-dist", job_type="w", group="g") as w1:
            w1.upsert_artifact(self.write("p1.txt", "1"), "shards", "dataset", ["from-upsert"])
        with amphora.init(project="p-dist", job_type="w", group="g") as w2:
            done = w2.finish_artifact(self.write("p2.txt", "2"), "shards", "dataset", ["final"])
        self.assertEqual(sorted(done.aliases), ["final", "from-upsert", "latest"])
        self.assertEqual(sorted(f.name for f in done.files()), ["p1.txt", "p2.txt"])


class RunLogTest(ServerTestCase):
    def test_step_and_commit_follow_w_and_b(self):
        with amphora.init(project="p-log", job_type="x") as run:
            run.log({"a": 1}, commit=False)
            run.log({"b": 2})  # joins step 0 and commits it
            run.log({"c": 3}, step=5)  # opens step 5 (not committed yet)
            run.log({"d": 4}, step=5)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                run.log({"old": 9}, step=2)  # lower than the current step: dropped with a warning
            self.assertTrue(any("less than the current step 5" in str(w.message) for w in caught))
            run.log({"e": 5}, step=7, commit=True)
            run.log({"f": 6})
        rows = [{k: v for k, v in r.items() if k not in ("_timestamp", "_runtime")} for r in Api().run(run.path).history(pandas=False)]
        self.assertEqual(rows, [{"_step": 0, "a": 1, "b": 2}, {"_step": 5, "c": 3, "d": 4}, {"_step": 7, "e": 5},
                                {"_step": 8, "f": 6}])

    def test_config_update_refuses_changes_unless_allowed(self):
        with amphora.init(project="p-cfg", job_type="x", config={"lr": 0.1}) as run:
            run.config.update({"lr": 0.1, "epochs": 3})  # same value and a new key: fine
            with self.assertRaises(ValueError) as ctx:
                run.config.update({"lr": 0.2})
            self.assertIn("allow_val_change=True", str(ctx.exception))
            with self.assertRaises(ValueError):
                run.config.lr = 0.3
            run.config.update({"lr": 0.2}, allow_val_change=True)
        self.assertEqual(Api().run(run.path).config, {"lr": 0.2, "epochs": 3})
        with amphora.init(project="p-cfg", job_type="x", config={"lr": 0.1}, allow_val_change=True) as run:
            run.config.lr = 0.5
        self.assertEqual(Api().run(run.path).config["lr"], 0.5)


class ExceptionTypesTest(ServerTestCase):
    def test_key_value_and_comm_errors(self):
        with amphora.init(project="p-exc", job_type="x") as run:
            self.log_text_file(run, "e", "e.txt", "e")
            with self.assertRaises(ValueError):
                run.use_artifact("e:latest", type="model")
        got = Api().artifact("p-exc/e:v0")
        with self.assertRaises(KeyError) as ctx:
            got.get_entry("missing.txt")
        self.assertIn("e.txt", str(ctx.exception))  # still says which files there are
        self.assertRaises(KeyError, got.get_path, "missing.txt")
        with self.assertRaises(amphora.errors.CommError) as ctx:
            Api().artifact("p-exc/nope:latest")
        self.assertEqual(ctx.exception.code, "not_found")
        with self.assertRaises(ValueError):
            Api().artifact("p-exc/e:latest", type="model")
        with self.assertRaises(ValueError):
            Artifact("bad name", type="dataset")
        saved = os.environ["AMPHORA_BASE_URL"]
        os.environ["AMPHORA_BASE_URL"] = "http://127.0.0.1:9"
        try:
            with self.assertRaises(CommError) as ctx:
                Api()
            self.assertEqual(ctx.exception.code, "server_unreachable")
            os.environ["AMPHORA_BASE_URL"] = "127.0.0.1:9"
            with self.assertRaises(ValueError) as ctx:
                Api()
            self.assertIn("must start with http:// or https://", str(ctx.exception))
        finally:
            os.environ["AMPHORA_BASE_URL"] = saved


class ModesAndInitArgumentsTest(ServerTestCase):
    def test_disabled_mode_works_without_any_server(self):
        saved = os.environ["AMPHORA_BASE_URL"]
        os.environ["AMPHORA_BASE_URL"] = "http://127.0.0.1:9"  # nothing listens there
        try:
            with amphora.init(project="p-off", mode="disabled", config={"lr": 1}) as run:
                run.log({"loss": 1.0})
                run.config.update({"lr": 2})
                run.summary["best"] = 3
                a = Artifact("d", type="dataset")
                a.add_file(self.write("d.txt", "d"))
                self.assertIs(run.log_artifact(a), a)
                used = run.use_artifact("whatever:latest")
                self.assertEqual(used.name, "whatever")
                self.assertEqual(run.config.lr, 2)
        finally:
            os.environ["AMPHORA_BASE_URL"] = saved
        self.assertTrue(run.finished)

    def test_offline_run_is_recorded_and_synced_later(self):
        dirs = os.path.join(self.work, "offline")
        with amphora.init(project="p-offline", job_type="train", mode="offline", dir=dirs, config={"lr": 0.1},
                          tags=["nightly"], notes="from the train", id="offline-run_1") as run:
            run.log({"loss": 1.0})
            run.log({"loss": 0.5})
            run.summary["best"] = 0.5
            a = Artifact("weights", type="model", metadata={"epochs": 2})
            with a.new_file("w.bin", mode="wb") as f:
                f.write(b"weights")
            run.log_artifact(a, aliases=["best"], tags=["candidate"])
            self.write("notes.md", "notes")
            run.save(os.path.join(self.work, "notes.md"))
            self.assertRaises(AmphoraError, run.use_artifact, "weights:latest")
        folder = run.dir
        self.assertTrue(os.path.isfile(os.path.join(folder, "events.jsonl")))
        self.assertFalse(Api().artifact_exists("p-offline/weights:latest"), "nothing reached the server yet")
        env = dict(os.environ)
        out = subprocess.run(["node", CLI, "--json", "sync", folder], env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        item = json.loads(out.stdout)["items"][0]
        self.assertEqual((item["state"], item["alreadySynced"]), ("finished", False))
        got = Api().run("p-offline/offline-run_1")
        self.assertEqual((got.config, got.summary["best"], got.tags, got.notes), ({"lr": 0.1}, 0.5, ["nightly"], "from the train"))
        self.assertEqual([r["loss"] for r in got.history()], [1.0, 0.5])
        w = Api().artifact("p-offline/weights:best")
        self.assertEqual((w.version, w.metadata, w.tags, w.logged_by().id), ("v0", {"epochs": 2}, ["candidate"], "offline-run_1"))
        self.assertIn("notes.md", [f["path"] for f in got.files()])
        again = subprocess.run(["node", CLI, "--json", "sync", folder], env=env, capture_output=True, text=True, timeout=120)
        self.assertTrue(json.loads(again.stdout)["items"][0]["alreadySynced"])
        self.assertEqual(len(Api().run("p-offline/offline-run_1").history()), 2)

    def test_init_tags_notes_ids_and_unsupported_arguments(self):
        with amphora.init(project="p-init", job_type="x", tags=["a", "b"], notes="first try", id="My_Run-1") as run:
            self.assertEqual(run.tags, ("a", "b"))
            run.tags = run.tags + ("c",)
            run.notes = "second thoughts"
        got = Api().run("p-init/My_Run-1")
        self.assertEqual((got.tags, got.notes), (["a", "b", "c"], "second thoughts"))
        got.tags.append("reviewed")  # W&B's public run: edit, then update()
        got.update()
        self.assertEqual(Api().run("p-init/My_Run-1").tags, ["a", "b", "c", "reviewed"])
        self.assertRaises(NotImplementedError, amphora.init, project="p-init", sync_tensorboard=True)
        self.assertRaises(NotImplementedError, amphora.init, project="p-init", save_code=True)
        self.assertRaises(TypeError, amphora.init, project="p-init", not_an_argument=1)
        self.assertRaises(ValueError, amphora.init, project="p-init", id="has space")
        self.assertRaises(ValueError, amphora.init, project="p-init", mode="sometimes")
        self.assertAmphoraError("not_found", amphora.init, project="p-init", id="never-made", resume="must")
        self.assertAmphoraError("conflict", amphora.init, project="p-init", id="My_Run-1", resume="never")
        with amphora.init(project="p-init", id="My_Run-1", resume="allow") as again:
            self.assertEqual(again.id, "My_Run-1")


class ApiDefaultsTest(ServerTestCase):
    def test_api_defaults_to_the_last_init_project(self):
        with amphora.init(project="p-last", job_type="x") as run:
            self.log_text_file(run, "near", "n.txt", "n")
        self.assertEqual(Api().artifact("near:latest").project, "p-last")
        self.assertEqual(Api().default_project, "p-last")
        self.assertEqual(Api(overrides={"project": "elsewhere"}).default_project, "elsewhere")


class CacheNeverAliasesUserFilesTest(ServerTestCase):
    def test_appending_to_a_logged_file_leaves_the_cached_blob_intact(self):
        path = self.write("data/train.csv", "x,y\n1,2\n")
        with amphora.init(project="p-cache", job_type="x") as run:
            a = Artifact("train", type="dataset")
            a.add_file(path)
            run.log_artifact(a)
        digest = a.manifest["train.csv"]["digest"]
        # A small file's copy is in a pack, never a link to the user's file.
        self.assertFalse(os.path.lexists(os.path.join(self.cache_dir, "blobs", "sha256", digest[:2], digest)))
        with open(path, "a") as f:
            f.write("3,4\n")
        self.assertEqual(cached_blob(self.cache_dir, digest), b"x,y\n1,2\n")
        got = Api().artifact("p-cache/train:v0")
        root = got.download(os.path.join(self.work, "again"))
        with open(os.path.join(root, "train.csv")) as f:
            self.assertEqual(f.read(), "x,y\n1,2\n")
        self.assertEqual((got.last_transfer.cache_hits, got.last_transfer.files_downloaded), (1, 0))
