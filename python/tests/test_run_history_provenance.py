"""Runs in the editor, data side (issue 11): code provenance in real git repositories, call sites,
NaN/Infinity and non-numeric values in log(), history()/scan_history(), and the background
history sender."""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.request

from amphora import provenance
from amphora.history import HistorySender, encode_row

from .support import CLI, ServerTestCase

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def git(cwd, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.com")
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env).stdout.decode().strip()


def make_repo(folder, remote="https://alice:s3cret-token@example.com/team/proj.git"):
    os.makedirs(folder, exist_ok=True)
    git(folder, "init", "-q", "-b", "main")
    with open(os.path.join(folder, "train.py"), "w") as f:
        f.write("print('hi')\n")
    git(folder, "add", "train.py")
    git(folder, "commit", "-q", "-m", "first")
    if remote:
        git(folder, "remote", "add", "origin", remote)
    return git(folder, "rev-parse", "HEAD")


class ProvenanceCaptureTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="amphora-prov-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_clean_tree(self):
        repo = os.path.join(self.tmp, "repo")
        commit = make_repo(repo)
        os.makedirs(os.path.join(repo, "src"))
        prog = os.path.join(repo, "src", "run.py")
        open(prog, "w").close()
        git(repo, "add", "src/run.py")
        git(repo, "commit", "-q", "-m", "program")
        commit = git(repo, "rev-parse", "HEAD")
        with open(os.path.join(repo, ".git", "info", "exclude"), "a") as f:
            f.write("*.log\n")
        open(os.path.join(repo, "out.log"), "w").close()  # ignored: not counted
        prov, diff = provenance.capture(program=prog, cwd=self.tmp)
        self.assertEqual(prov["program"], "src/run.py")
        self.assertEqual(prov["root"], os.path.realpath(repo))
        self.assertEqual(prov["git"], {"commit": commit, "branch": "main", "remote": "https://example.com/team/proj.git",
                                       "dirty": False, "untracked": 0, "diffFile": None, "diffTruncated": False})
        self.assertIsNone(diff)

    def test_untracked_files_make_the_tree_dirty_and_are_listed_by_name_in_the_diff(self):
        repo = os.path.join(self.tmp, "repo")
        make_repo(repo, remote=None)
        os.makedirs(os.path.join(repo, "data"))
        with open(os.path.join(repo, "data", "new file.csv"), "w") as f:
            f.write("SECRET-CONTENT\n")
        with open(os.path.join(repo, "notes.txt"), "w") as f:
            f.write("SECRET-CONTENT\n")
        with open(os.path.join(repo, ".git", "info", "exclude"), "a") as f:
            f.write("*.log\n")
        open(os.path.join(repo, "ignored.log"), "w").close()
        prov, diff = provenance.capture(program=os.path.join(repo, "train.py"))
        self.assertTrue(prov["git"]["dirty"])
        self.assertEqual(prov["git"]["untracked"], 2)
        self.assertEqual(prov["git"]["diffFile"], "code/git.diff")
        self.assertIn(b"# ?? data/new file.csv\n", diff)
        self.assertIn(b"# ?? notes.txt\n", diff)
        self.assertNotIn(b"SECRET-CONTENT", diff)
        self.assertNotIn(b"ignored.log", diff)
        # A tracked change comes first; the names follow it.
        with open(os.path.join(repo, "train.py"), "a") as f:
            f.write("print('changed')\n")
        prov, diff = provenance.capture(program=os.path.join(repo, "train.py"))
        self.assertLess(diff.index(b"+print('changed')"), diff.index(b"# 2 untracked files"))

    def test_dirty_tree_records_the_diff_bounded_to_one_mib(self):
        repo = os.path.join(self.tmp, "repo")
        make_repo(repo, remote=None)
        with open(os.path.join(repo, "train.py"), "a") as f:
            f.write("print('changed')\n")
        prov, diff = provenance.capture(program=os.path.join(repo, "train.py"))
        self.assertTrue(prov["git"]["dirty"])
        self.assertIsNone(prov["git"]["remote"])
        self.assertEqual(prov["git"]["diffFile"], "code/git.diff")
        self.assertFalse(prov["git"]["diffTruncated"])
        self.assertIn(b"+print('changed')", diff)
        with open(os.path.join(repo, "train.py"), "a") as f:
            f.write("x = 1  # padding\n" * 100_000)  # ~1.7 MB of diff
        prov, diff = provenance.capture(program=os.path.join(repo, "train.py"))
        self.assertTrue(prov["git"]["diffTruncated"])
        self.assertEqual(len(diff), 1 << 20)

    def test_no_git_repository_and_no_git_installed(self):
        folder = os.path.join(self.tmp, "plain")
        os.makedirs(folder)
        prog = os.path.join(folder, "main.py")
        open(prog, "w").close()
        prov, diff = provenance.capture(program=prog, cwd=folder)
        self.assertEqual(prov, {"program": "main.py", "root": folder, "git": None})
        self.assertIsNone(diff)
        repo = os.path.join(self.tmp, "repo")
        make_repo(repo)
        prov, diff = provenance.capture(program=os.path.join(repo, "train.py"), cwd=repo, git_binary=os.path.join(self.tmp, "no-such-git"))
        self.assertIsNone(prov["git"])
        self.assertEqual(prov["program"], "train.py")

    def test_repository_without_commits_has_no_git_record(self):
        repo = os.path.join(self.tmp, "empty")
        os.makedirs(repo)
        git(repo, "init", "-q")
        prog = os.path.join(repo, "x.py")
        open(prog, "w").close()
        prov, _ = provenance.capture(program=prog, cwd=repo)
        self.assertIsNone(prov["git"])

    def test_credentials_are_stripped_from_remotes(self):
        s = provenance.strip_credentials
        self.assertEqual(s("https://user:tok@host.example/x.git"), "https://host.example/x.git")
        self.assertEqual(s("https://ghp_token@github.com/a/b"), "https://github.com/a/b")
        self.assertEqual(s("ssh://git:pw@host/x.git"), "ssh://git@host/x.git")
        self.assertEqual(s("git@github.com:a/b.git"), "git@github.com:a/b.git")

    def test_call_site_is_the_first_frame_outside_the_package(self):
        here = os.path.abspath(__file__)
        site = provenance.call_site(os.path.dirname(here))
        self.assertEqual(site, {"file": os.path.basename(here), "line": sys._getframe().f_lineno - 1})


class EncodingAndSenderTest(unittest.TestCase):
    def test_rows_encode_non_finite_floats_as_strings_and_leave_the_rest(self):
        from amphora.live_run import json_value

        media_calls = []
        row = encode_row({"a": 1.5, "n": float("nan"), "i": float("inf"), "m": float("-inf"), "s": "x", 3: True, "t": (1, 2)},
                         lambda k, v: media_calls.append(k) or v, json_value)
        self.assertEqual(row, {"a": 1.5, "n": "NaN", "i": "Infinity", "m": "-Infinity", "s": "x", "3": True, "t": [1, 2]})
        self.assertEqual(media_calls, ["t"])
        json.dumps(row, allow_nan=False)  # valid JSON

    @staticmethod
    def refusing_route(message):
        """A stand-in for the server's history route that refuses while `down` is set: (post, sent, down)."""
        sent, down = [], threading.Event()
        down.set()

        def post(rows):
            if down.is_set():
                raise OSError(message)
            sent.append(rows)

        return post, sent, down

    def test_sender_keeps_a_failed_batch_and_drain_sends_it_in_order(self):
        post, sent, down = self.refusing_route("server unreachable")
        s = HistorySender(post)
        s.submit([1])
        s.submit([2])
        with self.assertRaises(OSError):
            s.drain()
        self.assertEqual(sent, [])
        down.clear()
        s.drain()
        self.assertEqual(sent, [[1], [2]])
        s.submit([3])
        s.drain()
        self.assertEqual(sent, [[1], [2], [3]])

    def test_a_failing_server_surfaces_at_the_next_submit_once_the_queue_is_full_and_loses_nothing(self):
        from amphora.errors import CommError

        post, sent, down = self.refusing_route("connection refused")
        s = HistorySender(post)
        with self.assertRaises(CommError) as cm:
            for i in range(HistorySender.MAX_QUEUED + 2):
                s.submit([i])
        self.assertIn("connection refused", str(cm.exception))
        self.assertIn("rows are kept", str(cm.exception))
        down.clear()
        s.drain()
        self.assertEqual(sent, [[i] for i in range(HistorySender.MAX_QUEUED + 1)])

    def test_columns_put_keys_numeric_in_every_row_in_float64_and_the_rest_in_other(self):
        import base64
        import struct
        from amphora.history import encode_columns

        body = encode_columns([(0, 1000, {"a": 1.5, "n": "NaN", "s": "x", "i": 2}), (1, 1001, {"a": 2, "n": 3.0, "b": True, "i": 3}),
                               (2, 1002, {"a": -1.0, "n": "-Infinity", "i": "four"})])
        self.assertEqual(sorted(body["numbers"]), ["a", "n"])
        self.assertEqual(struct.unpack("<3d", base64.b64decode(body["numbers"]["a"])), (1.5, 2.0, -1.0))
        n = struct.unpack("<3d", base64.b64decode(body["numbers"]["n"]))
        self.assertTrue(math.isnan(n[0]) and n[1] == 3.0 and n[2] == float("-inf"))
        self.assertEqual(body["other"], {"0": {"s": "x", "i": 2}, "1": {"b": True, "i": 3}, "2": {"i": "four"}})
        self.assertEqual((body["step"], body["time"]), ([0, 1, 2], [1000, 1001, 1002]))
        json.dumps(body, allow_nan=False)  # valid JSON

SCRIPT = r'''
import math, amphora
run = amphora.init(project="p-hist", job_type="train", config={"lr": 0.1})
for i in range(30):
    run.log({"loss": float("nan") if i == 3 else (float("inf") if i == 4 else 1.0 / (i + 1)), "phase": "warm" if i < 10 else "main"})
a = amphora.Artifact("model", type="model")
with a.new_file("w.txt") as f:
    f.write("w")
run.log_artifact(a)  # LOG_LINE
run.use_artifact("model:latest")  # USE_LINE
run.finish()
print(run.path)
'''


OFFLINE_SCRIPT = r'''
import os, amphora
run = amphora.init(project="p-offline-prov", job_type="train", mode="offline", dir=os.path.join(os.path.dirname(__file__), ".runs"))
w = amphora.Artifact("weights", type="model")
with w.new_file("w.txt") as f:
    f.write("w")
run.log_artifact(w)  # LOG_LINE
v = amphora.Artifact("vocab", type="dataset")
with v.new_file("v.txt") as f:
    f.write("v")
run.use_artifact(v)  # USE_LINE
run.finish()
print(run.dir)
'''


class HistoryAndProvenanceOverHttpTest(ServerTestCase):
    def run_script(self, folder):
        path = os.path.join(folder, "train.py")
        with open(path, "w") as f:
            f.write(SCRIPT)
        env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
        out = subprocess.run([sys.executable, path], cwd=folder, env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = SCRIPT.splitlines()
        return out.stdout.strip().splitlines()[-1], lines.index(next(l for l in lines if "LOG_LINE" in l)) + 1, \
            lines.index(next(l for l in lines if "USE_LINE" in l)) + 1

    def get(self, path):
        req = urllib.request.Request(self.server.url + "/api/v1" + path, headers={"authorization": "Bearer " + self.server.api_key})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    def test_a_dirty_repo_run_records_provenance_diff_and_call_sites(self):
        repo = os.path.join(self.tmp, "proj")
        commit = make_repo(repo)
        with open(os.path.join(repo, "notes.md"), "w") as f:
            f.write("x\n")
        git(repo, "add", "notes.md")  # staged, uncommitted: dirty
        path, log_line, use_line = self.run_script(repo)
        entity, project, run_id = path.split("/")
        run = self.get(f"/projects/{entity}/{project}/runs/{run_id}")
        prov = run["provenance"]
        self.assertEqual(prov["program"], "train.py")
        self.assertEqual(prov["root"], os.path.realpath(repo))
        self.assertEqual(prov["git"]["commit"], commit)
        self.assertEqual(prov["git"]["remote"], "https://example.com/team/proj.git")
        self.assertTrue(prov["git"]["dirty"])
        files = {f["path"] for f in self.get(f"/projects/{entity}/{project}/runs/{run_id}/files")["items"]}
        self.assertIn("code/git.diff", files)
        out = self.get(f"/projects/{entity}/{project}/runs/{run_id}/outputs")["items"]
        self.assertEqual(out[0]["callSite"], {"file": "train.py", "line": log_line})
        ins = self.get(f"/projects/{entity}/{project}/runs/{run_id}/inputs")["items"]
        self.assertEqual(ins[0]["usedAt"], {"file": "train.py", "line": use_line})

        metrics = self.get(f"/projects/{entity}/{project}/runs/{run_id}/metrics?keys=loss,phase")
        loss = metrics["series"][0]
        self.assertEqual(loss["value"][3:5], ["NaN", "Infinity"])
        self.assertEqual(loss["total"], 30)
        keys = {k["key"]: k for k in metrics["keys"]}
        self.assertFalse(keys["phase"]["numeric"])
        self.assertEqual(keys["phase"]["last"], "main")

        from amphora import Api

        public = Api().run(path)
        rows = public.history(pandas=False)
        self.assertEqual(len(rows), 30)
        self.assertTrue(math.isnan(rows[3]["loss"]))
        self.assertEqual(rows[4]["loss"], float("inf"))
        self.assertEqual(rows[0]["phase"], "warm")
        self.assertEqual(sorted(rows[0]), ["_runtime", "_step", "_timestamp", "loss", "phase"])
        self.assertGreaterEqual(rows[29]["_timestamp"], rows[0]["_timestamp"])
        sampled = public.history(samples=5, keys=["loss"], pandas=False)
        self.assertEqual([r["_step"] for r in sampled], [0, 7, 14, 22, 29])
        self.assertEqual(sorted(sampled[0]), ["_step", "loss"])
        scanned = list(public.scan_history(keys=["loss"], page_size=7, min_step=5, max_step=20))
        self.assertEqual(len(scanned), 15)
        self.assertEqual(scanned[0], {"loss": 1.0 / 6})
        self.assertEqual([r["_step"] for r in public.scan_history(page_size=4)], list(range(30)))
        with self.assertRaises(ValueError):
            list(public.scan_history(page_size=0))

    def test_scan_history_pages_by_rows_so_rows_at_repeated_or_lower_steps_are_all_seen(self):
        import amphora
        from amphora import Api

        run = amphora.init(project="p-scan", job_type="scan")
        run.finish()
        route = f"/projects/{run.entity}/{run.project}/runs/{run.id}/history"
        steps = [0, 5, 3, 4, 5, 6, 1]
        body = json.dumps({"rows": [{"step": st, "data": {"i": i}} for i, st in enumerate(steps)]}).encode()
        req = urllib.request.Request(self.server.url + "/api/v1" + route, data=body, method="POST",
                                     headers={"authorization": "Bearer " + self.server.api_key, "content-type": "application/json"})
        urllib.request.urlopen(req).read()
        public = Api().run(run.path)
        for size in (1, 2, 3, 100):
            self.assertEqual([(r["_step"], r["i"]) for r in public.scan_history(page_size=size)], list(zip(steps, range(7))), size)
        self.assertEqual([r["i"] for r in public.scan_history(page_size=2, min_step=3, max_step=6)], [1, 2, 3, 4])

    def test_an_offline_run_records_provenance_and_call_sites_and_sync_carries_them(self):
        repo = os.path.join(self.tmp, "offline-proj")
        commit = make_repo(repo)
        script = os.path.join(repo, "train.py")
        with open(script, "w") as f:  # a tracked change: the tree is dirty
            f.write(OFFLINE_SCRIPT)
        env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
        out = subprocess.run([sys.executable, script], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        folder = out.stdout.strip().splitlines()[-1]
        lines = OFFLINE_SCRIPT.splitlines()
        log_line = lines.index(next(l for l in lines if "LOG_LINE" in l)) + 1
        use_line = lines.index(next(l for l in lines if "USE_LINE" in l)) + 1
        synced = subprocess.run(["node", CLI, "--json", "sync", folder], env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(synced.returncode, 0, synced.stderr)
        base = "/projects/{}/{}/runs/{}".format(*json.loads(synced.stdout)["items"][0]["run"].split("/"))
        prov = self.get(base)["provenance"]
        self.assertEqual((prov["program"], prov["root"]), ("train.py", os.path.realpath(repo)))
        self.assertEqual((prov["git"]["commit"], prov["git"]["dirty"], prov["git"]["diffFile"]), (commit, True, "code/git.diff"))
        self.assertIn("code/git.diff", {f["path"] for f in self.get(base + "/files")["items"]})
        outputs = self.get(base + "/outputs")["items"]
        self.assertEqual([o["callSite"] for o in outputs if o["name"] == "weights"], [{"file": "train.py", "line": log_line}])
        inputs = self.get(base + "/inputs")["items"]
        self.assertEqual([i["usedAt"] for i in inputs if i["name"] == "vocab"], [{"file": "train.py", "line": use_line}])

    def test_a_run_outside_git_records_git_none(self):
        plain = os.path.join(self.tmp, "plain")
        os.makedirs(plain)
        path, _, _ = self.run_script(plain)
        entity, project, run_id = path.split("/")
        prov = self.get(f"/projects/{entity}/{project}/runs/{run_id}")["provenance"]
        self.assertEqual(prov, {"program": "train.py", "root": os.path.realpath(plain), "git": None})


if __name__ == "__main__":
    unittest.main()
