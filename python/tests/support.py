"""A real Amphora server per test class: `node dist/server.mjs --data-dir <tmp> --port 0`."""
import json
import os
import queue
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SERVER = os.path.join(REPO, "dist", "server.mjs")
CLI = os.path.join(REPO, "dist", "cli.mjs")
_ENV_KEYS = ("AMPHORA_BASE_URL", "AMPHORA_API_KEY", "AMPHORA_CACHE_DIR", "AMPHORA_DATA_DIR", "AMPHORA_PROJECT",
             "AMPHORA_ENTITY")


def pack_files(cache_dir):
    """The pack files of a download cache, sorted."""
    folder = os.path.join(cache_dir, "packs")
    try:
        return sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".pack"))
    except (FileNotFoundError, NotADirectoryError):
        return []


def pack_entry(cache_dir, digest):
    """(pack file, offset, size) of a blob in the first pack holding it, read here straight from
    the file format ([blobs][entry x count][trailer]), not through the client; or None."""
    for path in pack_files(cache_dir):
        with open(path, "rb") as f:
            data = f.read()
        magic, count = struct.unpack_from("<8sI", data, len(data) - 48)
        assert magic == b"AMPHPK01", path
        entries_at = len(data) - 48 - count * 40
        for i in range(count):
            raw, offset, size = struct.unpack_from("<32sII", data, entries_at + i * 40)
            if raw.hex() == digest:
                return path, offset, size
    return None


def packed_digests(cache_dir):
    """Every digest the packs of a download cache hold."""
    out = set()
    for path in pack_files(cache_dir):
        with open(path, "rb") as f:
            data = f.read()
        count = struct.unpack_from("<I", data, len(data) - 40)[0]
        entries_at = len(data) - 48 - count * 40
        out.update(data[entries_at + i * 40 : entries_at + i * 40 + 32].hex() for i in range(count))
    return out


def packed_blob(cache_dir, digest):
    """A blob's bytes as the first pack holding it stores them, or None."""
    found = pack_entry(cache_dir, digest)
    if found is None:
        return None
    path, offset, size = found
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(size)


def damage_packed_blob(cache_dir, digest):
    """Flips a byte in the middle of a packed blob (its pack's index stays valid); returns the pack."""
    path, offset, size = pack_entry(cache_dir, digest)
    with open(path, "r+b") as f:
        f.seek(offset + size // 2)
        byte = f.read(1)
        f.seek(offset + size // 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    return path


def cached_blob(cache_dir, digest):
    """The bytes the download cache holds for a blob, as a file of its own or in a pack, or None."""
    from amphora.settings import cached_blob_path

    try:
        with open(cached_blob_path(cache_dir, digest), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return packed_blob(cache_dir, digest)


def post_json(url, key, path, body):
    """POST a JSON body with a bearer key (setting up users, teams and grants on a team server)."""
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"authorization": "Bearer " + key, "content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def _is_event(line, name):
    """Whether a line the server printed is its JSON `{"event": name, ...}` announcement."""
    try:
        return json.loads(line).get("event") == name
    except (ValueError, AttributeError):
        return False


class ServerProcess:
    def __init__(self, data_dir, timeout=90, team_key=None):
        """`team_key`: start a team server (--team) whose site admin `admin` has this key."""
        if not os.path.isfile(SERVER):
            raise RuntimeError(f"{SERVER} is missing: build it first with `node esbuild.mjs` in {REPO}.")
        self.data_dir = data_dir
        env = dict(os.environ)
        env.pop("AMPHORA_BOOTSTRAP_KEY", None)
        if team_key:
            env["AMPHORA_BOOTSTRAP_KEY"] = team_key
        self.proc = subprocess.Popen(
            ["node", SERVER, "--data-dir", data_dir, "--host", "127.0.0.1", "--port", "0"] + (["--team"] if team_key else []),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, env=env,
        )
        # Start-up progress lines ({"event":"starting",...}) come before the listening line.
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in iter(self.proc.stdout.readline, b"")] + [lines.put(b"")], daemon=True).start()
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1.0)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if not line or _is_event(line, "listening"):
                break
        try:
            info = json.loads(line)
            assert info.get("event") == "listening"
        except Exception:
            err = self.proc.stderr.read1(4000) if self.proc.poll() is not None else b""
            self.stop()
            raise RuntimeError(f'the server did not start ({line[:300]!r}): {err.decode(errors="replace")}')
        self.url = info["url"]
        if team_key:
            self.api_key = team_key  # a team server publishes no key
        else:
            with open(os.path.join(data_dir, "server.json")) as f:
                self.api_key = json.load(f)["apiKey"]

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


def restore_environ(saved):
    """Puts back the variables in `saved` ({name: value, or None where it was unset})."""
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def open_server_class(cls, prefix, **server_options):
    """Gives a test class a temp folder `cls.tmp` and a server in it, saving the directory and
    environment that close_server_class puts back."""
    cls.tmp = tempfile.mkdtemp(prefix=prefix)
    cls._saved_env = {k: os.environ.get(k) for k in _ENV_KEYS}
    cls._saved_cwd = os.getcwd()
    cls.server = ServerProcess(os.path.join(cls.tmp, "data"), **server_options)


def close_server_class(cls):
    """Tear-down of a test class that started `cls.server` in `cls.tmp` and changed the directory and environment."""
    import amphora

    amphora.finish()
    os.chdir(cls._saved_cwd)
    restore_environ(cls._saved_env)
    cls.server.stop()
    shutil.rmtree(cls.tmp, ignore_errors=True)


class ServerTestCase(unittest.TestCase):
    """Starts a server, points the client at it (env vars), works in a temp cwd with a temp cache."""

    @classmethod
    def setUpClass(cls):
        open_server_class(cls, "amphora-pytest-")
        cls.cache_dir = os.path.join(cls.tmp, "cache")
        for k in _ENV_KEYS:
            os.environ.pop(k, None)
        os.environ["AMPHORA_BASE_URL"] = cls.server.url
        os.environ["AMPHORA_API_KEY"] = cls.server.api_key
        os.environ["AMPHORA_CACHE_DIR"] = cls.cache_dir
        cls.work = os.path.join(cls.tmp, "work")
        os.makedirs(cls.work)
        os.chdir(cls.work)

    @classmethod
    def tearDownClass(cls):
        close_server_class(cls)

    def log_text_file(self, run, name, rel, text):
        """Logs from `run` a dataset `name` holding one file `rel` with `text`; returns what log_artifact returns."""
        from amphora import Artifact

        a = Artifact(name, type="dataset")
        a.add_file(self.write(rel, text))
        return run.log_artifact(a)

    def write(self, rel, data):
        path = os.path.join(self.work, rel)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return path

    def write_small_files(self, folder, n):
        """Writes n small files of distinct random bytes into folder; returns {name: bytes}."""
        files = {}
        for i in range(n):
            data = os.urandom(64) + b"%d" % i
            files[f"f{i:03d}.bin"] = data
            self.write(f"{folder}/f{i:03d}.bin", data)
        return files

    def log_file(self, run, name, type, rel, data):
        """Logs a one-file artifact from the run; returns it."""
        from amphora import Artifact

        artifact = Artifact(name, type=type)
        artifact.add_file(self.write(rel, data))
        return run.log_artifact(artifact)

    def assertAmphoraError(self, code, fn, *args, **kwargs):
        from amphora import AmphoraError

        with self.assertRaises(AmphoraError) as ctx:
            fn(*args, **kwargs)
        self.assertEqual(ctx.exception.code, code, str(ctx.exception))
        self.assertGreater(len(str(ctx.exception)), 20)
        return ctx.exception
