"""W&B's registry members API against a real team server: Registry.members(), user_members(),
team_members(), add_members(), update_member(), remove_members(); restricted visibility hides a
registry from entity members who are not registry members."""
import os
import shutil
import tempfile
import unittest

from amphora import Api
from amphora.errors import CommError
from amphora.registries import Team, TeamMember, User, UserMember

from .support import ServerProcess, post_json

ADMIN_KEY = "py-registry-members-bootstrap-key-0123456789"


class RegistryMembers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="amphora-pyregmembers-")
        cls.server = ServerProcess(os.path.join(cls.tmp, "data"), team_key=ADMIN_KEY)
        url = cls.server.url
        keys = {name: post_json(url, ADMIN_KEY, "/api/v1/users", {"name": name})["apiKey"] for name in ("alice", "bob", "dave")}
        for team in ("vision", "reviewers"):
            post_json(url, ADMIN_KEY, "/api/v1/teams", {"name": team})
        post_json(url, ADMIN_KEY, "/api/v1/teams/vision/members", {"user": "alice", "role": "admin"})
        post_json(url, ADMIN_KEY, "/api/v1/teams/vision/members", {"user": "bob", "role": "viewer"})
        post_json(url, ADMIN_KEY, "/api/v1/teams/reviewers/members", {"user": "dave", "role": "viewer"})
        cls.alice = Api(api_key=keys["alice"], base_url=url)
        cls.bob = Api(api_key=keys["bob"], base_url=url)
        cls.dave = Api(api_key=keys["dave"], base_url=url)
        cls.registry = cls.alice.create_registry("secret", visibility="restricted", organization="vision")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def sees(self, api):
        try:
            api.registry("secret", organization="vision")
            return True
        except CommError as e:
            self.assertEqual(e.code, "not_found")
            return False

    def test_members_roles_and_restricted_visibility(self):
        reg = self.registry
        self.assertEqual(reg.members(), [])
        self.assertFalse(self.sees(self.bob), "restricted: an entity viewer who is no member does not see it")
        self.assertIs(reg.add_members("bob", Team("reviewers")), reg)
        self.assertEqual(reg.user_members(), [UserMember(User("bob"), "viewer")])
        self.assertEqual(reg.team_members(), [TeamMember(Team("reviewers"), "viewer")])
        self.assertTrue(self.sees(self.bob))
        self.assertTrue(self.sees(self.dave), "dave is a member of team reviewers")
        reg.update_member("bob", "admin")
        self.assertEqual([(m.name, m.role) for m in reg.members()], [("bob", "admin"), ("reviewers", "viewer")])
        # bob is now a registry admin: he manages members.
        bobs = self.bob.registry("secret", organization="vision")
        bobs.update_member(reg.team_members()[0], "member")
        self.assertEqual(reg.team_members()[0].role, "member")
        bobs.remove_members(Team("reviewers"))
        self.assertFalse(self.sees(self.dave))
        reg.remove_members(User("bob"))
        self.assertFalse(self.sees(self.bob))
        self.assertEqual(reg.members(), [])

    def test_bad_members_and_roles_say_what_to_do(self):
        reg = self.registry
        with self.assertRaises(NotImplementedError):
            reg.update_member("bob", "restricted_viewer")
        with self.assertRaises(ValueError):
            reg.update_member("bob", "owner")
        with self.assertRaises(TypeError):
            reg.add_members(42)
        with self.assertRaises(CommError) as ctx:
            reg.add_members("nobody")
        self.assertIn('no user "nobody"', str(ctx.exception))
        with self.assertRaises(CommError) as ctx:
            reg.update_member("dave", "viewer")
        self.assertEqual(ctx.exception.code, "not_found")
        self.assertIn("not a member", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
