"""HTTP over keep-alive `http.client` connections: one connection per thread and origin.

Every non-2xx answer becomes a CommError (an AmphoraError) built from the server's ErrorBody; a refused
connection becomes `server_unreachable` with instructions to start a server.
"""
import errno
import os
import http.client
import json
import threading
import urllib.parse

from .errors import CommError
from .received import storage_origins_from

API_PREFIX = "/api/v1"
CHUNK = 1 << 20
_RETRYABLE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.CannotSendRequest,
              http.client.ResponseNotReady)


START_HINT = "Start one with `amphora serve` (or `npm start` in the Amphora repository)"


def unreachable(base_url, cause=None):
    """Same words as the TypeScript SDK's unreachableError, plus the repository's start command."""
    why = ""
    if isinstance(cause, OSError) and cause.errno in errno.errorcode:
        why = f" ({errno.errorcode[cause.errno]})"
    elif cause is not None:
        why = f" ({str(cause) or type(cause).__name__})"
    return CommError(
        "server_unreachable",
        f"Cannot reach the Amphora server at {base_url}{why}. {START_HINT}, or set AMPHORA_BASE_URL (and AMPHORA_API_KEY) to a running server.",
    )


def enc(s):
    return urllib.parse.quote(str(s), safe="")


class Http:
    def __init__(self, base_url, api_key, timeout=60.0):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self._origin = urllib.parse.urlsplit(self.base_url)
        # Origins besides the server's that transfer URLs may point at (presigned storage).
        self.storage_origins = storage_origins_from(os.environ)
        self._local = threading.local()
        self._all = []
        self._lock = threading.Lock()
        # False once the server answered 404 for POST /blobs/batch (an older server): one PUT per blob.
        self.batch_supported = True

    # ------------------------------------------------------------------ connections
    def _connection(self, split):
        key = (split.scheme, split.netloc)
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        conn = conns.get(key)
        if conn is None:
            cls = http.client.HTTPSConnection if split.scheme == "https" else http.client.HTTPConnection
            conn = cls(split.netloc, timeout=self.timeout, blocksize=CHUNK)
            conns[key] = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def abandon(self, path_or_url):
        """Closes this thread's connection to that origin (a response left half-read cannot be reused)."""
        self._drop(self._url(path_or_url))

    def _drop(self, split):
        conns = getattr(self._local, "conns", {})
        conn = conns.pop((split.scheme, split.netloc), None)
        if conn is not None:
            conn.close()

    def close(self):
        with self._lock:
            for c in self._all:
                try:
                    c.close()
                except Exception:
                    pass
            self._all.clear()
        self._local = threading.local()

    # ------------------------------------------------------------------ requests
    def _url(self, path_or_url):
        if path_or_url.startswith(("http://", "https://")):
            return urllib.parse.urlsplit(path_or_url)
        return urllib.parse.urlsplit(self.base_url + path_or_url)

    def open(self, method, path_or_url, body=None, headers=None, query=None, auth=None):
        """Sends a request and returns the open response (caller reads and closes it).
        `body` is bytes, None, or a callable returning a fresh readable file (so a retry can resend)."""
        split = self._url(path_or_url)
        same_origin = (split.scheme, split.netloc) == (self._origin.scheme, self._origin.netloc)
        target = split.path or "/"
        q = split.query
        if query:
            extra = urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
            q = q + "&" + extra if q else extra
        if q:
            target += "?" + q
        hdrs = {"accept": "application/json"}
        if (same_origin if auth is None else auth) and self.api_key:
            hdrs["authorization"] = "Bearer " + self.api_key
        hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
        for attempt in range(2):
            conn = self._connection(split)
            stream = None
            try:
                payload = body
                if callable(body):
                    stream = payload = body()
                conn.request(method, target, body=payload, headers=hdrs)
                return conn.getresponse()
            except _RETRYABLE as e:
                # A kept-alive connection the server closed meanwhile: reconnect once.
                self._drop(split)
                if attempt == 1:
                    raise unreachable(f"{split.scheme}://{split.netloc}", e)
            except OSError as e:  # refused, unknown host, timeout
                self._drop(split)
                raise unreachable(f"{split.scheme}://{split.netloc}", e)
            except BaseException:
                # e.g. a streamed body that failed half-way: the connection is mid-request.
                self._drop(split)
                raise
            finally:
                if stream is not None:
                    stream.close()

    def request(self, method, path, json_body=None, query=None, expect_json=True):
        headers = {}
        body = None
        if json_body is not None:
            body = json.dumps(json_body, allow_nan=False, default=_json_default).encode("utf-8")
            headers["Content-Type"] = "application/json"
        resp = self.open(method, path, body=body, headers=headers, query=query)
        data = resp.read()
        if resp.status >= 400:
            raise error_from(resp.status, data, method, path)
        if not expect_json or not data:
            return data
        return json.loads(data)

    def get(self, path, query=None):
        return self.request("GET", path, query=query)

    def post(self, path, body=None, query=None):
        return self.request("POST", path, json_body=body if body is not None else {}, query=query)

    def patch(self, path, body):
        return self.request("PATCH", path, json_body=body)

    def put(self, path, body):
        return self.request("PUT", path, json_body=body)

    def delete(self, path, query=None):
        return self.request("DELETE", path, query=query)


def _json_default(o):
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, (set, tuple)):
        return list(o)
    if hasattr(o, "_as_dict"):
        return o._as_dict()
    return str(o)


def error_from(status, data, method, path):
    try:
        err = json.loads(data)["error"]
        return CommError(err["code"], err["message"], err.get("details"))
    except Exception:
        text = data[:300].decode("utf-8", "replace") if data else ""
        code = "not_found" if status == 404 else "unauthorized" if status == 401 else "internal"
        return CommError(code, f'{method} {path} answered HTTP {status}: {text or "(no body)"}')
