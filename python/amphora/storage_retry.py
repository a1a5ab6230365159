"""Requests to the storage a server hands out (presigned S3 URLs), retried like the TypeScript SDK's
(src/client/storageRetry.ts): a dropped connection or a 5xx/429 from an overloaded or flaky store is
sent again up to 5 times with exponential back-off and jitter (Retry-After honoured), since a
presigned PUT or GET is idempotent; a 4xx is not retried and says what it most likely means."""
import email.utils
import random
import re
import time

from .errors import CommError

STORAGE_ATTEMPTS = 5
STORAGE_BACKOFF_S = 0.2
_MAX_WAIT_S = 10.0
_RETRY_STATUS = (429, 500, 502, 503, 504)


def storage_error(origin, method, status, data, retry_after=None):
    """The CommError for a storage answer `status` with body `data` (an S3 XML error, usually)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else (data or "")
    detail = _s3_error_summary(text)
    said = f"The storage at {origin} answered {method} with HTTP {status}{f' ({detail})' if detail else ''}"
    if status in _RETRY_STATUS:
        err = CommError("server_unreachable", f"{said}: it is failing or overloaded. Check the storage service (its logs, "
                        "disk and load), then run the transfer again; blobs already stored are not sent again.")
    elif status == 403 and re.search("expired", text, re.I):
        err = CommError("invalid_request", f"{said}: the presigned URL expired before the transfer reached it. Run the "
                        "transfer again (it asks for fresh URLs); if it keeps happening, the server's and this machine's "
                        "clocks may differ.")
    else:
        err = CommError("not_found" if status == 404 else "invalid_request", f"{said}: it refused the request the "
                        "server presigned. Ask the server's administrator to check its bucket settings and credentials.")
    err.http_status = status
    err.retry_after_s = _retry_after_s(retry_after)
    return err


def _s3_error_summary(text):
    code = re.search(r"<Code>([^<]*)</Code>", text)
    message = re.search(r"<Message>([^<]*)</Message>", text)
    if code or message:
        return ": ".join(m.group(1) for m in (code, message) if m)[:300]
    return text.strip().split("\n")[0][:300]


def _retry_after_s(value):
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def storage_open(http, method, url, body=None, headers=None, sleep=time.sleep):
    """Opens a storage request through `http` (an amphora Http) and returns the 2xx response for the
    caller to read; `body` as for Http.open (a callable gives each attempt a fresh stream)."""
    split = http._url(url)  # a relative path is the server's own route
    origin = f"{split.scheme}://{split.netloc}"
    t0 = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            resp = http.open(method, url, body=body, headers=headers)
        except CommError as e:
            if e.code != "server_unreachable":
                raise
            err, wait = e, None
        else:
            if resp.status < 400:
                return resp
            err = storage_error(origin, method, resp.status, resp.read(), resp.getheader("Retry-After"))
            if resp.status not in _RETRY_STATUS:
                raise err
            wait = err.retry_after_s
        if attempt >= STORAGE_ATTEMPTS:
            raise CommError(err.code, f"{err} ({attempt} attempts over {time.monotonic() - t0:.1f} s.)")
        planned = STORAGE_BACKOFF_S * 2 ** (attempt - 1) * (0.5 + random.random())
        sleep(min(_MAX_WAIT_S, max(planned, wait or 0.0)))
