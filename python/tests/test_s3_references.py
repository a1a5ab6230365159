"""s3:// references in the Python client: put/get against s3rver through boto3 (Debian's
python3-boto3 under the system Python, and whatever boto3 the running Python has), and the clear
error when boto3 / google-cloud-storage is not installed."""
import hashlib
import http.server
import json
import os
import select
import signal
import subprocess
import sys
import threading
import unittest
import urllib.parse
from unittest import mock

import amphora
from amphora import AmphoraError, Api, Artifact

from .support import REPO, ServerTestCase, restore_environ

S3RVER_CHILD = os.path.join(REPO, "test", "support", "s3rverProcess.mjs")
SYSTEM_PYTHON = "/usr/bin/python3"
BUCKET = "py-refs"

try:
    import boto3  # noqa: F401

    HAS_BOTO3 = True
except ImportError:
    HAS_BOTO3 = False


def md5(data):
    return hashlib.md5(data).hexdigest()


class S3rver:
    """s3rver on a free loopback port in its own process (see test/support/s3rverProcess.mjs)."""

    def __init__(self, directory, buckets):
        self.proc = subprocess.Popen(["node", "--openssl-legacy-provider", S3RVER_CHILD, directory] + list(buckets),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline() if ready else b""
        try:
            self.endpoint = json.loads(line)["endpoint"]
        except ValueError:
            self.stop()
            raise RuntimeError(f"s3rver did not start: {line!r}")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        self.proc.stdout.close()
        self.proc.stderr.close()


def s3rver_env(endpoint, home):
    """What a user would set for this store; no config files, no instance metadata service."""
    return {
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": "S3RVER",
        "AWS_SECRET_ACCESS_KEY": "S3RVER",
        "AWS_REGION": "us-east-1",
        "AWS_REQUEST_CHECKSUM_CALCULATION": "WHEN_REQUIRED",
        "AWS_RESPONSE_CHECKSUM_VALIDATION": "WHEN_REQUIRED",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.path.join(home, "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "no-aws-credentials"),
    }


@unittest.skipUnless(HAS_BOTO3, f"boto3 is not importable under {sys.executable}; SystemPythonS3Test runs these under Debian's python3-boto3")
class S3ReferencesTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s3rver = S3rver(os.path.join(cls.tmp, "s3"), [BUCKET])
        cls.aws_env = s3rver_env(cls.s3rver.endpoint, cls.tmp)
        cls._saved_aws = {k: os.environ.get(k) for k in cls.aws_env}
        os.environ.update(cls.aws_env)
        cls.s3 = boto3.session.Session().client("s3", endpoint_url=cls.s3rver.endpoint,
                                                config=boto3.session.Config(s3={"addressing_style": "path"}))
        cls.put("data/train.csv", b"x,y\n1,2\n")
        cls.put("ds/a.txt", b"alpha")
        cls.put("ds/sub/b.txt", b"beta")
        cls.put("ds/marker/", b"")

    @classmethod
    def tearDownClass(cls):
        restore_environ(cls._saved_aws)
        cls.s3rver.stop()
        super().tearDownClass()

    @classmethod
    def put(cls, key, body):
        cls.s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    def env(self, **changes):
        """Patches os.environ for one block (None removes a variable)."""
        patched = dict(os.environ)
        for k, v in changes.items():
            if v is None:
                patched.pop(k, None)
            else:
                patched[k] = v
        return mock.patch.dict(os.environ, patched, clear=True)

    def test_key_put_and_get(self):
        art = Artifact("s3-key", type="dataset")
        [entry] = art.add_reference(f"s3://{BUCKET}/data/train.csv")
        self.assertEqual(entry.path, "train.csv")
        self.assertEqual(entry.digest, md5(b"x,y\n1,2\n"))
        self.assertEqual(entry.size, 8)
        self.assertEqual(entry.ref(), f"s3://{BUCKET}/data/train.csv")
        with amphora.init(project="py-s3", job_type="log") as run:
            run.log_artifact(art)
        self.assertEqual(art.last_transfer.bytes_uploaded, 0)  # references store no bytes
        got = Api().artifact("py-s3/s3-key:latest")
        root = got.download(os.path.join(self.work, "key"))
        with open(os.path.join(root, "train.csv"), "rb") as f:
            self.assertEqual(f.read(), b"x,y\n1,2\n")

    def test_prefix_expands_under_name(self):
        art = Artifact("s3-prefix", type="dataset")
        entries = art.add_reference(f"s3://{BUCKET}/ds/", name="raw")
        self.assertEqual(sorted(e.path for e in entries), ["raw/a.txt", "raw/sub/b.txt"])
        with amphora.init(project="py-s3", job_type="log") as run:
            run.log_artifact(art)
        root = Api().artifact("py-s3/s3-prefix:v0").download(os.path.join(self.work, "prefix"))
        with open(os.path.join(root, "raw", "sub", "b.txt"), "rb") as f:
            self.assertEqual(f.read(), b"beta")
        no_slash = Artifact("s3-prefix2", type="dataset").add_reference(f"s3://{BUCKET}/ds")
        self.assertEqual(sorted(e.path for e in no_slash), ["a.txt", "sub/b.txt"])

    def test_changed_object_is_a_clear_error(self):
        self.put("mutable/m.bin", b"first")
        art = Artifact("s3-mutable", type="dataset")
        art.add_reference(f"s3://{BUCKET}/mutable/m.bin")
        with amphora.init(project="py-s3", job_type="log") as run:
            run.log_artifact(art)
        self.put("mutable/m.bin", b"second")
        got = Api().artifact("py-s3/s3-mutable:latest")
        root = os.path.join(self.work, "mutable")
        e = self.assertAmphoraError("reference_changed", got.download, root)
        self.assertIn(f'ETag was "{md5(b"first")}", now "{md5(b"second")}"', str(e))
        self.assertFalse(os.path.exists(os.path.join(root, "m.bin")))

    def test_checksum_false_records_the_uri(self):
        self.put("loose/l.txt", b"one")
        art = Artifact("s3-loose", type="dataset")
        with self.env(AWS_ACCESS_KEY_ID=None):  # nothing is asked of S3
            [entry] = art.add_reference(f"s3://{BUCKET}/loose/l.txt", checksum=False)
        self.assertEqual(entry.digest, f"s3://{BUCKET}/loose/l.txt")
        with amphora.init(project="py-s3", job_type="log") as run:
            run.log_artifact(art)
        self.put("loose/l.txt", b"two")
        root = Api().artifact("py-s3/s3-loose:latest").download(os.path.join(self.work, "loose"))
        with open(os.path.join(root, "l.txt"), "rb") as f:
            self.assertEqual(f.read(), b"two")

    def test_max_objects_exceeded(self):
        e = self.assertAmphoraError("invalid_request", Artifact("s3-cap", type="dataset").add_reference,
                                    f"s3://{BUCKET}/ds/", max_objects=1)
        self.assertIn("more than max_objects=1 objects", str(e))

    def test_missing_bucket_and_key(self):
        e = self.assertAmphoraError("not_found", Artifact("x", type="dataset").add_reference, "s3://no-such-bucket/k.txt")
        self.assertIn('Bucket "no-such-bucket" does not exist', str(e))
        e = self.assertAmphoraError("not_found", Artifact("x", type="dataset").add_reference, f"s3://{BUCKET}/nope.txt")
        self.assertIn(f"s3://{BUCKET}/nope.txt does not exist", str(e))

    def test_missing_and_wrong_credentials(self):
        with self.env(AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None):
            e = self.assertAmphoraError("unauthorized", Artifact("x", type="dataset").add_reference, f"s3://{BUCKET}/data/train.csv")
        self.assertIn("AWS_ACCESS_KEY_ID", str(e))
        with self.env(AWS_ACCESS_KEY_ID="NOT-A-KEY"):
            e = self.assertAmphoraError("unauthorized", Artifact("x", type="dataset").add_reference, f"s3://{BUCKET}/data/train.csv")
        self.assertIn("refused", str(e))
        # A logged reference is downloaded with the downloader's own credentials too.
        art = Artifact("s3-creds", type="dataset")
        art.add_reference(f"s3://{BUCKET}/data/train.csv")
        with amphora.init(project="py-s3", job_type="log") as run:
            run.log_artifact(art)
        with self.env(AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None):
            e = self.assertAmphoraError("unauthorized", Api().artifact("py-s3/s3-creds:latest").download, os.path.join(self.work, "creds"))
        self.assertIn("No AWS credentials", str(e))

    def test_unreachable_endpoint(self):
        with self.env(AWS_ENDPOINT_URL_S3="http://127.0.0.1:9", AWS_MAX_ATTEMPTS="1"):
            e = self.assertAmphoraError("server_unreachable", Artifact("x", type="dataset").add_reference, f"s3://{BUCKET}/data/train.csv")
        self.assertIn("Cannot reach S3 at http://127.0.0.1:9", str(e))


class _FakeVersionedS3(http.server.ThreadingHTTPServer):
    """s3rver has no versioning: the few REST calls boto3 makes for references (HEAD/GET object with
    versionId, ?versioning, ?versions listing), path-style, signatures not checked."""

    daemon_threads = True

    def __init__(self):
        self.objects = {}  # key -> [(version_id, bytes)], oldest first
        self.n = 0
        super().__init__(("127.0.0.1", 0), _FakeVersionedS3.Handler)

    def put(self, key, data):
        self.n += 1
        vid = f"ver-{self.n}"
        self.objects.setdefault(key, []).append((vid, data))
        return vid

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _xml(self, status, body):
            data = ('<?xml version="1.0" encoding="UTF-8"?>' + body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
            _, bucket, key = (url.path.split("/", 2) + [""])[:3]
            key = urllib.parse.unquote(key)
            objects = self.server.objects
            if bucket != "versioned":
                return self._xml(404, "<Error><Code>NoSuchBucket</Code><Message>no bucket</Message></Error>")
            if not key and "versioning" in query:
                return self._xml(200, "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>")
            if not key and "versions" in query:
                prefix = (query.get("prefix") or [""])[0]
                items = "".join(
                    f'<Version><Key>{k}</Key><VersionId>{vid}</VersionId><IsLatest>{"true" if i == len(vs) - 1 else "false"}</IsLatest><ETag>"{md5(data)}"</ETag><Size>{len(data)}</Size></Version>'
                    for k, vs in sorted(objects.items()) if k.startswith(prefix) for i, (vid, data) in enumerate(vs))
                return self._xml(200, f"<ListVersionsResult><Name>versioned</Name><Prefix>{prefix}</Prefix><IsTruncated>false</IsTruncated>{items}"
                                      "</ListVersionsResult>")
            versions = objects.get(key) or []
            wanted = (query.get("versionId") or [None])[0]
            found = [v for v in versions if v[0] == wanted] if wanted else versions[-1:]
            if not found:
                code = "NoSuchVersion" if wanted and versions else "NoSuchKey"
                return self._xml(404, f"<Error><Code>{code}</Code><Message>not here</Message></Error>")
            vid, data = found[0]
            self.send_response(200)
            self.send_header("ETag", f'"{md5(data)}"')
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amz-version-id", vid)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(data)


@unittest.skipUnless(HAS_BOTO3, f"boto3 is not importable under {sys.executable}; SystemPythonS3Test runs these under Debian's python3-boto3")
class VersionedS3ReferencesTest(ServerTestCase):
    """The VersionId path, against a fake versioned S3 (s3rver has no versioning)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fake = _FakeVersionedS3()
        threading.Thread(target=cls.fake.serve_forever, daemon=True).start()
        env = s3rver_env(f"http://127.0.0.1:{cls.fake.server_address[1]}", cls.tmp)
        cls._saved_aws = {k: os.environ.get(k) for k in env}
        os.environ.update(env)

    @classmethod
    def tearDownClass(cls):
        restore_environ(cls._saved_aws)
        cls.fake.shutdown()
        cls.fake.server_close()
        super().tearDownClass()

    def test_pinned_key_downloads_its_version_after_an_overwrite(self):
        v1 = self.fake.put("models/m.bin", b"weights v1")
        art = Artifact("s3-pinned", type="model")
        [entry] = art.add_reference("s3://versioned/models/m.bin")
        self.assertEqual(entry.extra, {"etag": f'"{md5(b"weights v1")}"', "versionId": v1})
        with amphora.init(project="py-s3v", job_type="log") as run:
            run.log_artifact(art)
        self.fake.put("models/m.bin", b"weights v2")
        root = Api().artifact("py-s3v/s3-pinned:latest").download(os.path.join(self.work, "pinned"))
        with open(os.path.join(root, "m.bin"), "rb") as f:
            self.assertEqual(f.read(), b"weights v1")

    def test_versioned_prefix_records_latest_versions_and_a_deleted_version_is_not_found(self):
        self.fake.put("ds/a.txt", b"old a")
        va = self.fake.put("ds/a.txt", b"alpha")
        vb = self.fake.put("ds/b.txt", b"beta")
        art = Artifact("s3-pinned-prefix", type="dataset")
        entries = art.add_reference("s3://versioned/ds/")
        self.assertEqual(sorted((e.path, e.extra["versionId"]) for e in entries), [("a.txt", va), ("b.txt", vb)])
        with amphora.init(project="py-s3v", job_type="log") as run:
            run.log_artifact(art)
        self.fake.objects["ds/b.txt"] = [("ver-other", b"rewritten")]
        got = Api().artifact("py-s3v/s3-pinned-prefix:latest")
        e = self.assertAmphoraError("not_found", got.download, os.path.join(self.work, "pinned-prefix"))
        self.assertIn("recorded version of s3://versioned/ds/b.txt no longer exists", str(e))


class CloudUriTest(unittest.TestCase):
    """The helpers shared by s3:// and gs:// (same rules as src/client/references/cloud.ts)."""

    def test_parse_and_name(self):
        from amphora.cloud_references import max_objects_of, object_path, parse_cloud_uri, prefixed_path

        self.assertEqual(parse_cloud_uri("s3://b/data/train.csv"), ("s3", "b", "data/train.csv"))
        self.assertEqual(parse_cloud_uri("gs://b/pre fix/%41.txt"), ("gs", "b", "pre fix/%41.txt"))
        self.assertEqual(parse_cloud_uri("s3://b"), ("s3", "b", ""))
        for bad in ("s3://", "s3:///key", "gs:/b/k", "S3://b/k"):
            with self.assertRaises(AmphoraError) as ctx:
                parse_cloud_uri(bad)
            self.assertEqual(ctx.exception.code, "invalid_reference", bad)
        self.assertEqual(object_path("a/b/c.csv", None), "c.csv")
        self.assertEqual(prefixed_path("ds/", "ds/sub/b.txt", "raw"), "raw/sub/b.txt")
        with self.assertRaises(AmphoraError) as ctx:
            prefixed_path("ds/", "ds/a//b.txt", None)
        self.assertEqual(ctx.exception.code, "invalid_path")
        self.assertEqual(max_objects_of(None), 10000)
        for bad in (0, -1, 1.5, True):
            with self.assertRaises(AmphoraError):
                max_objects_of(bad)


class MissingPackageTest(unittest.TestCase):
    """boto3 / google-cloud-storage made unimportable (sys.modules entry None): a clear error naming the package."""

    def test_boto3_not_installed(self):
        with mock.patch.dict(sys.modules, {"boto3": None, "botocore": None, "botocore.config": None, "botocore.exceptions": None}):
            with self.assertRaises(AmphoraError) as ctx:
                Artifact("x", type="dataset").add_reference("s3://bucket/key.csv")
            from amphora.references import download_reference

            with self.assertRaises(AmphoraError) as dl:
                download_reference("key.csv", {"digest": "d41d8cd98f00b204e9800998ecf8427e", "size": 0, "ref": "s3://bucket/key.csv",
                                               "extra": {"etag": '"d41d8cd98f00b204e9800998ecf8427e"'}}, "/nonexistent/x", "/nonexistent/x.tmp")
        for e in (ctx.exception, dl.exception):
            self.assertEqual(e.code, "unsupported")
            self.assertIn("boto3 package, which is not installed", str(e))
            self.assertIn("pip install boto3", str(e))

    def test_google_cloud_storage_not_installed(self):
        with mock.patch.dict(sys.modules, {"google": None, "google.cloud": None, "google.cloud.storage": None}):
            with self.assertRaises(AmphoraError) as ctx:
                Artifact("x", type="dataset").add_reference("gs://bucket/key.csv")
        self.assertEqual(ctx.exception.code, "unsupported")
        self.assertIn("google-cloud-storage package, which is not installed", str(ctx.exception))

    def test_unknown_scheme_names_it(self):
        with self.assertRaises(AmphoraError) as ctx:
            Artifact("x", type="dataset").add_reference("ftp://host/file.csv")
        self.assertEqual(ctx.exception.code, "unsupported")
        self.assertIn('scheme "ftp"', str(ctx.exception))


class SystemPythonS3Test(unittest.TestCase):
    """The boto3 tests again under the system Python with Debian's python3-boto3 (scripts/setup.sh installs it)."""

    def test_under_system_python_with_debian_boto3(self):
        if not os.path.exists(SYSTEM_PYTHON):
            self.skipTest(f"no system Python at {SYSTEM_PYTHON} (not a Debian machine)")
        if os.path.realpath(sys.executable) == os.path.realpath(SYSTEM_PYTHON) and HAS_BOTO3:
            self.skipTest("this run already is the system Python: S3ReferencesTest ran with its boto3")
        probe = subprocess.run([SYSTEM_PYTHON, "-c", "import boto3; print(boto3.__version__)"], capture_output=True, text=True)
        self.assertEqual(probe.returncode, 0, f"Debian's python3-boto3 is missing under {SYSTEM_PYTHON}; run scripts/setup.sh (it installs "
                                              f"python3-boto3): {probe.stderr[-500:]}")
        python_dir = os.path.join(REPO, "python")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AMPHORA_", "AWS_", "PYTHON"))}
        run = subprocess.run([SYSTEM_PYTHON, "-m", "unittest", "-v", "tests.test_s3_references.S3ReferencesTest",
                              "tests.test_s3_references.VersionedS3ReferencesTest"],
                             cwd=python_dir, env=env, capture_output=True, text=True, timeout=600)
        out = run.stdout + run.stderr
        self.assertEqual(run.returncode, 0, out[-4000:])
        self.assertRegex(out, r"Ran [1-9]\d* tests")
        self.assertNotIn("skipped", out)
