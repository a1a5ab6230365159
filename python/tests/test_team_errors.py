"""A team server's refusals reach Python as W&B code expects them: CommError, and PermissionError
for a role too low (403 forbidden); a project without any role looks absent (not_found)."""
import os
import unittest

import amphora
from amphora.errors import CommError, CommPermissionError

from .support import _ENV_KEYS, close_server_class, open_server_class, post_json

ADMIN_KEY = "py-team-test-bootstrap-key-0123456789abcdef"


class TeamErrorTypes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        open_server_class(cls, "amphora-pyteam-", team_key=ADMIN_KEY)
        url = cls.server.url
        cls.alice_key = post_json(url, ADMIN_KEY, "/api/v1/users", {"name": "alice"})["apiKey"]
        cls.bob_key = post_json(url, ADMIN_KEY, "/api/v1/users", {"name": "bob"})["apiKey"]
        post_json(url, ADMIN_KEY, "/api/v1/grants", {"user": "bob", "entity": "alice", "project": "shared", "role": "viewer"})
        for k in _ENV_KEYS:
            os.environ.pop(k, None)
        os.environ["AMPHORA_BASE_URL"] = url
        os.environ["AMPHORA_CACHE_DIR"] = os.path.join(cls.tmp, "cache")
        os.makedirs(os.path.join(cls.tmp, "work"))
        os.chdir(os.path.join(cls.tmp, "work"))
        with open("data.txt", "w") as f:
            f.write("alice's data\n")
        os.environ["AMPHORA_API_KEY"] = cls.alice_key
        for project in ("shared", "private"):
            run = amphora.init(entity="alice", project=project)
            art = amphora.Artifact("data", type="dataset")
            art.add_file("data.txt")
            run.log_artifact(art).wait()
            run.finish()
        os.environ["AMPHORA_API_KEY"] = cls.bob_key

    @classmethod
    def tearDownClass(cls):
        close_server_class(cls)

    def test_role_too_low_is_a_permission_error(self):
        art = amphora.Api().artifact("alice/shared/data:v0")
        self.assertEqual(art.version, "v0")  # a viewer reads
        with self.assertRaises(PermissionError) as ctx:
            art.delete(delete_aliases=True)
        err = ctx.exception
        self.assertIsInstance(err, CommError)
        self.assertIsInstance(err, CommPermissionError)
        self.assertEqual(err.code, "forbidden")
        self.assertEqual(err.status, 403)
        self.assertIn("admin", str(err))

    def test_no_role_looks_like_no_project(self):
        with self.assertRaises(CommError) as ctx:
            amphora.Api().artifact("alice/private/data:v0")
        self.assertEqual(ctx.exception.code, "not_found")
        self.assertNotIsInstance(ctx.exception, PermissionError)


if __name__ == "__main__":
    unittest.main()
