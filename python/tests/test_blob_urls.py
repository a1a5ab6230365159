"""Transfer.blob_target: the one check of where a blob's bytes may be sent to or fetched from."""
import tempfile
import unittest

from amphora.errors import AmphoraError
from amphora.transfer import Transfer

D = "ab" * 32
OTHER = "cd" * 32


class _Http:
    def __init__(self, base_url):
        self.base_url = base_url
        self.storage_origins = frozenset()


class BlobTargetTest(unittest.TestCase):
    def target(self, url, handed_out, base="http://127.0.0.1:7411"):
        with tempfile.TemporaryDirectory() as cache:
            return Transfer(_Http(base), cache).blob_target(url, D, handed_out)

    def test_the_servers_own_route_for_this_digest_goes_to_our_server(self):
        self.assertEqual(self.target("http://localhost:7411/api/v1/blobs/" + D, False), "/api/v1/blobs/" + D)
        self.assertEqual(self.target("/api/v1/blobs/" + D, False), "/api/v1/blobs/" + D)
        self.assertEqual(self.target("http://x/base/api/v1/blobs/" + D, False, base="http://x/base"), "/api/v1/blobs/" + D)

    def test_a_storage_url_handed_out_for_the_blob_is_used_as_given(self):
        url = f"http://127.0.0.1:9000/bucket/staging/{D}.n?X-Amz-Signature=x"
        self.assertEqual(self.target(url, True), url)

    def test_refuses_foreign_urls_not_handed_out_other_blobs_and_other_schemes(self):
        for url, handed_out in (("http://evil.example/collect", False), ("/api/v1/blobs/" + OTHER, False),
                                ("/api/v1/projects", False), ("file:///etc/passwd", True)):
            with self.assertRaises(AmphoraError) as ctx:
                self.target(url, handed_out)
            self.assertIn("refusing to transfer it", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
