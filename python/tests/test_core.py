"""The Python port of the core rules, checked on its own and against the TypeScript core itself."""
import hashlib
import json
import os
import shutil
import subprocess
import unittest

from amphora.run_filters import run_matches
from amphora.metric_summary import MetricSummaries
from amphora.errors import AmphoraError
from amphora.manifest import artifact_digest, stored_blobs, validate_manifest
from amphora.names import validate_alias, validate_artifact_name, validate_artifact_type
from amphora.paths import check_path_collisions, join_inside, validate_manifest_path
from amphora.reference import format_reference, parse_reference, version_index
from amphora.settings import cached_blob_path, default_cache_dir, default_data_dir, discovery_path

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class CoreTest(unittest.TestCase):
    def assertCode(self, code, fn, *args):
        with self.assertRaises(AmphoraError) as ctx:
            fn(*args)
        self.assertEqual(ctx.exception.code, code)
        self.assertGreater(len(str(ctx.exception)), 20)
        return ctx.exception


class NamesTest(CoreTest):
    def test_accepts_names(self):
        self.assertEqual(validate_artifact_name("mnist-raw_v2.1"), "mnist-raw_v2.1")
        self.assertEqual(validate_artifact_name("a" * 128), "a" * 128)

    def test_rejects_bad_names(self):
        for bad in ["", "a" * 129, "has space", "slash/name", "colon:x", "\u00fc", "..", "x\n", None, 3]:
            self.assertCode("invalid_name", validate_artifact_name, bad)
        self.assertCode("invalid_type", validate_artifact_type, "bad type")

    def test_version_shaped_aliases_are_reserved(self):
        self.assertCode("invalid_alias", validate_alias, "v3")
        self.assertCode("invalid_alias", validate_alias, "v01")
        self.assertEqual(validate_alias("v3-best"), "v3-best")
        self.assertEqual(validate_alias("best-ap50"), "best-ap50")


class ReferenceTest(CoreTest):
    def test_parses_every_form(self):
        r = parse_reference("mnist-raw")
        self.assertEqual((r.entity, r.project, r.name, r.selector, r.is_version, r.explicit_selector), (None, None, "mnist-raw", "latest", False, False))
        r = parse_reference("proj/mnist-raw:v2")
        self.assertEqual((r.project, r.name, r.selector, r.is_version, r.explicit_selector), ("proj", "mnist-raw", "v2", True, True))
        r = parse_reference("team/proj/model:best")
        self.assertEqual((r.entity, r.project, r.selector), ("team", "proj", "best"))
        self.assertEqual(format_reference(r), "team/proj/model:best")
        self.assertEqual(version_index("v12"), 12)
        self.assertIsNone(version_index("best"))

    def test_rejects_malformed(self):
        for bad in ["", "a/b/c/d", "x:", "x:a:b", "/x", "x//y", "bad name", "x:v01", "x:bad alias", None]:
            e = self.assertCode("invalid_reference", parse_reference, bad)
            self.assertIn("[entity/][project/]name", str(e))


class PathsTest(CoreTest):
    def test_rejects_hostile_paths(self):
        for bad in ["../x", "a/../../x", "/etc/passwd", "a\\b", "a\0b", "a//b", "a/", "", "./a", "C:/x", "x" * 1025]:
            self.assertCode("invalid_path", validate_manifest_path, bad)

    def test_collisions(self):
        self.assertCode("invalid_path", check_path_collisions, ["a", "a/b"])
        self.assertCode("invalid_path", check_path_collisions, ["x/y/z", "x/y"])
        self.assertCode("invalid_path", check_path_collisions, ["a", "a"])
        check_path_collisions(["a.txt", "a/b", "ab/c"])

    def test_join_inside(self):
        self.assertEqual(join_inside("/tmp/root", "a/b.txt"), os.path.join("/tmp/root", "a", "b.txt"))
        self.assertCode("invalid_path", join_inside, "/tmp/root", "../x")


class DigestTest(CoreTest):
    def test_digest_rule(self):
        d1, d2 = "a" * 64, "b" * 64
        expected = hashlib.sha256(f"amphora-manifest-v1\nB.txt:{d2}\na.txt:{d1}\n".encode()).hexdigest()
        self.assertEqual(artifact_digest({"a.txt": {"digest": d1, "size": 1}, "B.txt": {"digest": d2, "size": 2}}), expected)

    def test_code_point_order(self):
        m = {"\uff5e": {"digest": "a" * 64, "size": 1}, "\U0001f600": {"digest": "b" * 64, "size": 1}}
        expected = hashlib.sha256(f'amphora-manifest-v1\n\uff5e:{"a" * 64}\n\U0001f600:{"b" * 64}\n'.encode()).hexdigest()
        self.assertEqual(artifact_digest(m), expected)

    def test_only_path_and_digest_count(self):
        m = {"x": {"digest": "c" * 64, "size": 3}}
        self.assertEqual(artifact_digest(m), artifact_digest({"x": {"digest": "c" * 64, "size": 999, "extra": {"k": 1}}}))

    def test_validate_manifest(self):
        self.assertEqual(validate_manifest({"a": {"digest": "d" * 64, "size": 5}, "b": {"digest": "https://x/y", "size": 1, "ref": "https://x/y"}}), 6)
        self.assertCode("invalid_manifest", validate_manifest, {"a": {"digest": "xyz", "size": 1}})
        self.assertCode("invalid_manifest", validate_manifest, {"a": {"digest": "d" * 64, "size": -1}})
        self.assertCode("invalid_manifest", validate_manifest, {"a": {"digest": "d" * 64, "size": float("nan")}})
        self.assertCode("invalid_manifest", validate_manifest, {"a": {"digest": "ftp://x", "size": 1, "ref": "ftp://x"}})
        self.assertEqual(stored_blobs({"a": {"digest": "d" * 64, "size": 5}, "b": {"digest": "d" * 64, "size": 5}, "c": {"digest": "u", "size": 1, "ref": "file:///x"}}), [{"digest": "d" * 64, "size": 5}])


class SettingsTest(CoreTest):
    def test_locations_mirror_config_ts(self):
        env = {"HOME": "/home/u"}
        self.assertEqual(default_data_dir(env), "/home/u/.local/share/amphora")
        self.assertEqual(default_cache_dir(env), "/home/u/.cache/amphora")
        self.assertEqual(default_data_dir({"HOME": "/h", "XDG_DATA_HOME": "/x"}), "/x/amphora")
        self.assertEqual(default_data_dir({"HOME": "/h", "XDG_DATA_HOME": "relative"}), "/h/.local/share/amphora")
        self.assertEqual(default_data_dir({"HOME": "/h", "AMPHORA_DATA_DIR": "/d"}), "/d")
        self.assertEqual(default_cache_dir({"HOME": "/h", "AMPHORA_CACHE_DIR": "/c"}), "/c")
        self.assertEqual(discovery_path("/d"), "/d/server.json")
        self.assertEqual(cached_blob_path("/c", "ab" + "0" * 62), "/c/blobs/sha256/ab/ab" + "0" * 62)


# Inputs whose outcome (value or exact error message) must be identical in both languages.
_RUNS = [
    {"id": "a", "name": "sunny-1", "state": "finished", "tags": ["base", "eu"], "jobType": "train", "group": "g1",
     "createdAt": "2026-01-01T00:00:00Z", "config": {"lr": 0.1, "opt": {"name": "adam"}, "wb": {"value": 3}},
     "summary": {"acc": 0.9, "loss": 0.2}},
    {"id": "b", "name": "rainy-2", "state": "failed", "tags": [], "jobType": "eval", "group": None,
     "createdAt": "2026-02-01T00:00:00Z", "config": {"lr": 0.01, "layers": [1, 2]}, "summary": {"acc": 0.5}},
    {"id": "c", "name": "windy-3", "state": "running", "tags": ["eu"], "jobType": "train", "group": "g1",
     "createdAt": "2026-03-01T00:00:00Z", "config": {"lr": "0.5"}, "summary": {}},
]
_RUN_FILTER_CASES = [
    {}, {"config.lr": 0.1}, {"config.lr": {"$gt": 0.05}}, {"config.lr": {"$lte": 0.1, "$gte": 0.01}},
    {"summary_metrics.acc": {"$gte": 0.5}}, {"summary.loss": {"$exists": False}}, {"state": {"$in": ["finished", "running"]}},
    {"state": {"$nin": ["failed"]}}, {"tags": "eu"}, {"tags": {"$in": ["base"]}}, {"display_name": {"$regex": "^s"}},
    {"config.opt.name": "adam"}, {"config.wb.value": 3}, {"$or": [{"jobType": "eval"}, {"group": "g1"}]},
    {"$and": [{"jobType": "train"}, {"state": {"$ne": "running"}}]}, {"$nor": [{"state": "failed"}]},
    {"config.lr": {"$not": {"$gt": 0.05}}}, {"createdAt": {"$gte": "2026-02-01"}}, {"config.layers": [1, 2]},
    {"config.lr": {"$gt": "0.1"}}, {"group": None}, {"id": "b"},
    {"$xor": []}, {"config.lr": {"$near": 1}}, {"bogus": 1}, {"state.x": 1}, {"$or": {"state": "failed"}},
    {"state": {"$in": "failed"}},
]


PARITY_CASES = (
    [{"fn": "parseReference", "arg": a} for a in [
        "mnist-raw", " proj/mnist-raw:v2 ", "team/proj/model:best", "", "   ", "a/b/c/d", "x:", "x:a:b", "/x", "x//y",
        "bad name", "x:v01", "x:bad alias", "x:v0", "..", "a/./b", "\u00fcber:latest", "x:" + "y" * 60, "\U0001f600" * 30,
        "n" * 129, "p/n:" + "\u00e9" * 50,
    ]]
    + [{"fn": f, "arg": a} for f in ["validateArtifactName", "validateArtifactType", "validateAlias"] for a in [
        "ok-name", "", "a" * 129, "has space", "\u00fc", "..", ".", "v3", "v01", "v3-best", "x\ny", "\U0001f600" * 70,
    ]]
    + [{"fn": "validateManifestPath", "arg": a} for a in [
        "data/train.csv", "../x", "a/../../x", "/etc/passwd", "a\\b", "a\u0000b", "a\u007fb", "a//b", "a/", "", "./a", "C:/x",
        "x" * 1025, "\u00e9" * 513, "\u00e9" * 300, "ok/\U0001f600.txt",
    ]]
    + [{"fn": "checkPathCollisions", "arg": a} for a in [["a", "a/b"], ["x/y/z", "x/y"], ["a", "a"], ["a.txt", "a/b", "ab/c"]]]
    + [{"fn": "artifactDigest", "arg": a} for a in [
        {}, {"a.txt": {"digest": "a" * 64, "size": 1}, "B.txt": {"digest": "b" * 64, "size": 2}},
        {"\uff5e": {"digest": "a" * 64, "size": 1}, "\U0001f600": {"digest": "b" * 64, "size": 1}, "\u00e9/x": {"digest": "https://h/x", "size": 0, "ref": "https://h/x"}},
    ]]
    + [{"fn": "validateManifest", "arg": a} for a in [
        {"a": {"digest": "d" * 64, "size": 5}, "b": {"digest": "https://x/y", "size": 1, "ref": "https://x/y"}},
        {"a": {"digest": "xyz", "size": 1}}, {"a": {"digest": "d" * 64, "size": -1}}, {"a": {"digest": "d" * 64, "size": 1.5}},
        {"a": {"digest": "u", "size": 1, "ref": "ftp://host/x"}}, {"a": {"digest": "d" * 64, "size": 1}, "a/b": {"digest": "d" * 64, "size": 1}},
        {"../a": {"digest": "d" * 64, "size": 1}},
    ]]
    + [{"fn": "metricSummaries", "arg": a} for a in [
        # W&B's log-summary example: min and max of loss accumulate over two calls; acc by glob.
        {"defs": [{"name": "loss", "opts": {"summary": "min"}}, {"name": "loss", "opts": {"summary": "max"}},
                  {"name": "val/*", "opts": {"summary": "mean,last", "stepMetric": "epoch"}}],
         "rows": [{"loss": 0.9, "epoch": 0}, {"val/acc": 0.5}, {"loss": 0.4, "epoch": 1}, {"val/acc": 0.7, "note": "x"},
                  {"loss": 0.6}]},
        {"defs": [{"name": "acc", "opts": {"summary": "best", "goal": "maximize"}}, {"name": "f1", "opts": {"summary": "first"}},
                  {"name": "hidden", "opts": {"summary": "none"}}, {"name": "acc", "opts": {"summary": "last", "overwrite": True}}],
         "rows": [{"acc": 0.2, "f1": 1, "hidden": 3}, {"acc": 0.8, "f1": 2, "hidden": 4}, {"acc": "NaN"}]},
        {"defs": [{"name": "s/*", "opts": {"stepMetric": "t", "stepSync": False}}], "rows": [{"t": 1}, {"s/x": 2}]},
        {"defs": [{"name": "loss", "opts": {"summary": "best"}}], "rows": []},
        {"defs": [{"name": "loss", "opts": {"summary": "median"}}], "rows": []},
        {"defs": [{"name": "a*b", "opts": {}}], "rows": []},
        {"defs": [{"name": "loss", "opts": {"summary": "min", "goal": "sideways"}}], "rows": []},
    ]]
    + [{"fn": "runFilters", "arg": {"runs": _RUNS, "filters": f}} for f in _RUN_FILTER_CASES]
)


def _metric_summaries(arg):
    m = MetricSummaries()
    for d in arg["defs"]:
        o = d["opts"]
        m.define(d["name"], step_metric=o.get("stepMetric"), step_sync=o.get("stepSync"), summary=o.get("summary"),
                 goal=o.get("goal"), overwrite=o.get("overwrite"))
    rows = [m.sync_steps(r) for r in arg["rows"]]
    summary = {}
    for r in rows:
        summary.update(m.summarize(r))
    return {"rows": rows, "summary": summary}


def _python_outcome(case):
    fn, arg = case["fn"], case["arg"]
    try:
        if fn == "parseReference":
            r = parse_reference(arg)
            value = {k: v for k, v in {"entity": r.entity, "project": r.project, "name": r.name, "selector": r.selector,
                                      "isVersion": r.is_version, "explicitSelector": r.explicit_selector}.items() if v is not None}
        elif fn == "runFilters":
            value = [r["id"] for r in arg["runs"] if run_matches(r, arg["filters"])]
        elif fn == "metricSummaries":
            value = _metric_summaries(arg)
        elif fn == "checkPathCollisions":
            value = check_path_collisions(arg)
        else:
            value = {
                "validateArtifactName": validate_artifact_name, "validateArtifactType": validate_artifact_type,
                "validateAlias": validate_alias, "validateManifestPath": validate_manifest_path,
                "artifactDigest": artifact_digest, "validateManifest": validate_manifest,
            }[fn](arg)
        return {"ok": True, "value": value}
    except AmphoraError as e:
        return {"code": e.code, "message": e.message}


class ParityWithTypeScriptTest(unittest.TestCase):
    """Same outcome and the same error message, character for character, as src/core/*.ts."""

    def test_same_results_and_messages_as_the_typescript_core(self):
        tsx = os.path.join(REPO, "node_modules", "tsx")
        if not shutil.which("node") or not os.path.isdir(tsx):
            self.skipTest("node with tsx is needed to run the TypeScript core (run `npm install` in the repository)")
        proc = subprocess.run(
            ["node", "--import", "tsx", os.path.join(REPO, "python", "tests", "ts_core_oracle.ts")],
            input=json.dumps(PARITY_CASES).encode(), capture_output=True, cwd=REPO, timeout=120,
        )
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace"))
        expected = json.loads(proc.stdout)
        self.assertEqual(len(expected), len(PARITY_CASES))
        for case, want in zip(PARITY_CASES, expected):
            got = json.loads(json.dumps(_python_outcome(case)))
            self.assertEqual(got, want, f"case {case!r}")


if __name__ == "__main__":
    unittest.main()
