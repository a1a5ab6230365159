"""Logging an unchanged folder again names its content by digest (POST …/relog) instead of sending
the whole manifest; content that turns out to be new (a file removed: every remaining file known
to the stat cache) is committed with its manifest after the server's not_found. Real server."""
import os
import unittest
from unittest import mock

import amphora

from .support import ServerTestCase


class RelogByDigestTest(ServerTestCase):
    def log(self, run, folder, aliases=None):
        a = amphora.Artifact("frames", type="dataset")
        a.add_dir(os.path.join(self.work, folder))
        posted = []
        http = run._client.http
        real = http.post

        def spy(path, body=None, query=None):
            posted.append((path.rsplit("/", 1)[-1], body))
            return real(path, body, query)

        with mock.patch.object(http, "post", spy):
            run.log_artifact(a, aliases=aliases)
        return a, [(p, b) for p, b in posted if p in ("versions", "relog")]

    def test_an_unchanged_folder_is_named_by_digest_and_new_content_falls_back_to_the_manifest(self):
        for i in range(12):
            self.write(f"frames/f{i}.bin", f"frame {i}\n".encode())
        run = amphora.init(project="p-relog", job_type="test")
        first, posted = self.log(run, "frames")
        self.assertEqual([p for p, _ in posted], ["versions"], "files just hashed: the manifest is committed")
        self.assertEqual(first.version, "v0")

        again, posted = self.log(run, "frames", aliases=["best"])
        self.assertEqual([p for p, _ in posted], ["relog"], "nothing hashed: named by digest")
        body = posted[0][1]
        self.assertNotIn("manifest", body)
        self.assertEqual(body["digest"], first.digest)
        self.assertEqual(body["runId"], run.id, "the output edge still goes to this run")
        self.assertEqual((again.version, again.digest), ("v0", first.digest))
        self.assertIn("best", again.aliases)

        os.remove(os.path.join(self.work, "frames", "f0.bin"))
        fewer, posted = self.log(run, "frames")
        self.assertEqual([p for p, _ in posted], ["relog", "versions"], "no version holds it: not_found, then the manifest")
        self.assertEqual(fewer.version, "v1")
        run.finish()
        outputs = [a.version for a in amphora.Api().run(f"p-relog/{run.id}").logged_artifacts()]
        self.assertEqual(sorted(outputs), ["v0", "v1"])


if __name__ == "__main__":
    unittest.main()
