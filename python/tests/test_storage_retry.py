"""Storage requests (presigned URLs) retry a 5xx or 429 with back-off, and say why when they give up,
against a loopback stand-in for the storage (no S3 logic: it answers what each test scripts)."""
import http.server
import threading
import unittest

from amphora.errors import CommError
from amphora.storage_retry import storage_open
from amphora.transport import Http

S3_500 = b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>'
S3_EXPIRED = b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>'
S3_SIGNATURE = b'<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match.</Message></Error>'
BLOB = b"blob bytes " * 100


class _Storage(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        n = int(self.headers.get("content-length") or 0)
        self.rfile.read(n)
        self.server.received.append((self.command, n))
        script = self.server.script
        status, body, headers = script.pop(0) if len(script) > 1 else script[0]
        if status < 300 and self.command == "GET":
            body = BLOB
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_PUT = do_GET = _answer

    def log_message(self, *args):
        pass


class StorageRetry(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Storage)
        threading.Thread(target=cls.srv.serve_forever, daemon=True).start()
        cls.url = f"http://127.0.0.1:{cls.srv.server_address[1]}/bucket/key?X-Amz-Signature=abc"

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()
        cls.srv.server_close()

    def setUp(self):
        self.srv.received = []
        self.waits = []
        # The Amphora server itself is never contacted here: storage is another origin.
        self.http = Http("http://127.0.0.1:9", "k")

    def tearDown(self):
        self.http.close()

    def put(self):
        return storage_open(self.http, "PUT", self.url, body=lambda: _Bytes(BLOB), headers={"content-length": str(len(BLOB))},
                            sleep=self.waits.append)

    def test_a_put_answered_500_twice_is_sent_again_whole_and_succeeds(self):
        self.srv.script = [(500, S3_500, None), (500, S3_500, None), (200, b"", None)]
        self.put().read()
        self.assertEqual(self.srv.received, [("PUT", len(BLOB))] * 3)
        self.assertEqual(len(self.waits), 2)
        self.assertTrue(0.1 <= self.waits[0] <= 0.3 and 0.2 <= self.waits[1] <= 0.6, self.waits)

    def test_gives_up_after_5_attempts_saying_what_the_storage_answered_not_expired(self):
        self.srv.script = [(500, S3_500, None)]
        with self.assertRaises(CommError) as cm:
            self.put()
        m = str(cm.exception)
        self.assertEqual(cm.exception.code, "server_unreachable")
        self.assertIn("answered PUT with HTTP 500 (InternalError: We encountered an internal error", m)
        self.assertIn("failing or overloaded", m)
        self.assertIn("5 attempts over", m)
        self.assertNotIn("expired", m)
        self.assertEqual(len(self.srv.received), 5)

    def test_503_retry_after_is_honoured_and_429_is_retried(self):
        self.srv.script = [(503, b"<Error><Code>SlowDown</Code></Error>", {"Retry-After": "2"}), (429, b"", None), (200, b"", None)]
        self.put().read()
        self.assertEqual(len(self.srv.received), 3)
        self.assertGreaterEqual(self.waits[0], 2)

    def test_an_expired_url_is_not_retried_and_says_so(self):
        self.srv.script = [(403, S3_EXPIRED, None)]
        with self.assertRaisesRegex(CommError, r"HTTP 403 \(AccessDenied: Request has expired\): the presigned URL expired"):
            self.put()
        self.assertEqual(len(self.srv.received), 1)

    def test_another_refusal_is_not_retried_and_blames_no_expiry(self):
        self.srv.script = [(403, S3_SIGNATURE, None)]
        with self.assertRaises(CommError) as cm:
            self.put()
        self.assertIn("SignatureDoesNotMatch", str(cm.exception))
        self.assertIn("bucket settings and credentials", str(cm.exception))
        self.assertNotIn("expired", str(cm.exception))
        self.assertEqual(len(self.srv.received), 1)

    def test_a_get_retries_a_500_and_returns_the_bytes(self):
        self.srv.script = [(500, S3_500, None), (200, b"", None)]
        resp = storage_open(self.http, "GET", self.url, sleep=self.waits.append)
        self.assertEqual(resp.read(), BLOB)
        self.assertEqual([m for m, _ in self.srv.received], ["GET", "GET"])


class _Bytes:
    """A fresh readable body per attempt, as transfer.py's callables give."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def read(self, n=-1):
        out = self.data[self.pos:] if n < 0 else self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def close(self):
        pass


if __name__ == "__main__":
    unittest.main()
