"""A first log of many small files uploads them in groups while the rest are still being hashed
(StreamingUpload), makes them durable with one flush at the end, and stops cleanly when a group
fails. Real server, real files."""
import os
import time
import unittest
from unittest import mock

import amphora
from amphora import AmphoraError, Api, statcache, transfer

from .support import ServerTestCase


class StreamingUploadTest(ServerTestCase):
    def test_groups_go_up_while_hashing_goes_on_and_one_flush_makes_them_durable(self):
        files = self.write_small_files("stream", 50)
        events = []
        real_read, real_upload, real_post = statcache.StatCache.read, transfer.Transfer.upload, None

        def read(self_, path, st):
            events.append("hash")
            return real_read(self_, path, st)

        def upload(self_, blobs, stats=None, flush=True, bar=None):
            events.append("upload")
            return real_upload(self_, blobs, stats, flush, bar)

        run = amphora.init(project="p-stream", job_type="test")
        http = run._client.http
        real_post = http.post
        posted = []

        def post(path, body=None, query=None):
            posted.append(path.rsplit("/", 1)[-1])
            return real_post(path, body, query)

        a = amphora.Artifact("stream", type="dataset")
        a.add_dir(os.path.join(self.work, "stream"))
        with mock.patch.object(transfer, "BATCH_FILES", 10), mock.patch.object(statcache.StatCache, "read", read), \
                mock.patch.object(transfer.Transfer, "upload", upload), mock.patch.object(http, "post", post):
            run.log_artifact(a)
        run.finish()
        self.assertEqual(a.last_transfer.files_uploaded, 50)
        first_upload = events.index("upload")
        self.assertLess(first_upload, len(events) - 1 - events[::-1].index("hash"), "a group went up before the last file was hashed")
        self.assertEqual(events.count("upload"), 5 + 1, "five groups of ten while hashing, then the (empty) rest")
        self.assertEqual(posted.count("flush"), 1, "one flush for every group")
        out = Api().artifact("p-stream/stream").download(os.path.join(self.work, "stream-out"))
        for name, data in files.items():
            with open(os.path.join(out, name), "rb") as f:
                self.assertEqual(f.read(), data)

    def test_a_failing_group_fails_the_log_and_leaves_no_thread_sending(self):
        self.write_small_files("broken", 30)
        real_upload = transfer.Transfer.upload
        calls = []
        in_flight = []

        def upload(self_, blobs, stats=None, flush=True, bar=None):
            calls.append(len(blobs))
            in_flight.append(1)
            try:
                if len(calls) == 1:
                    raise AmphoraError("insufficient_storage", "The server's disk is full; nothing was stored.")
                return real_upload(self_, blobs, stats, flush, bar)
            finally:
                in_flight.pop()

        run = amphora.init(project="p-broken", job_type="test")
        a = amphora.Artifact("broken", type="dataset")
        a.add_dir(os.path.join(self.work, "broken"))
        with mock.patch.object(transfer, "BATCH_FILES", 10), mock.patch.object(transfer.Transfer, "upload", upload):
            with self.assertRaises(AmphoraError) as ctx:
                run.log_artifact(a)
        self.assertEqual(ctx.exception.code, "insufficient_storage")
        self.assertEqual(in_flight, [], "no group is still sending when the error reaches the caller")
        started = len(calls)
        time.sleep(0.3)
        self.assertEqual(len(calls), started, "and none starts after it")
        run.finish()
        self.assertAmphoraError("not_found", Api().artifact, "p-broken/broken:latest")


if __name__ == "__main__":
    unittest.main()
