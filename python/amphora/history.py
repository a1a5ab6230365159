"""Run history on the wire: encoding logged rows cheaply, sending batches in the background, and
reading history back the way W&B's public `Run.history` / `Run.scan_history` do."""
import base64
import collections
import sys
import threading
import time
import warnings
from array import array
from datetime import datetime, timezone

from .errors import CommError

# JSON has no NaN or infinities: they travel as these strings (the server charts them as such).
_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def encode_row(data, media, json_value):
    """The row as sent: plain numbers and strings pass through untouched (the common case, and the
    hot loop of a training script); NaN/±Infinity become strings; anything else goes through
    `media` (images, tables) and `json_value` (tensors, arrays, nesting)."""
    row = {}
    for k, v in data.items():
        if type(k) is not str:
            k = str(k)
        t = type(v)
        if t is float:
            if v - v != 0.0:  # NaN or ±Infinity
                v = json_value(v)
        elif t is not int and t is not str and t is not bool and v is not None:
            v = json_value(media(k, v))
        row[k] = v
    return row


_last_ms = None
_last_iso = None


def iso_of_ms(ms):
    """ISO-8601 (UTC, milliseconds) of ms since the epoch; formatted once per millisecond (rows come faster)."""
    global _last_ms, _last_iso
    if ms != _last_ms:
        _last_iso = datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
        _last_ms = ms
    return _last_iso


def now_ms():
    return int(time.time() * 1000)


_NUMBER_TYPES = frozenset((float, int))
_BIG_ENDIAN = sys.byteorder == "big"


def encode_columns(rows):
    """A batch of (step, ms, data) rows in the server's compact form (HistoryColumns): the keys
    that every row logged as a number travel as base64 float64 columns (little-endian, NaN and
    infinities as themselves); every other cell goes in `other` by row index, as JSON."""
    datas = [r[2] for r in rows]
    numbers = {}
    for k in datas[0] if datas else ():
        try:
            col = [d[k] for d in datas]
        except KeyError:  # not in every row
            continue
        types = set(map(type, col))
        if not types <= _NUMBER_TYPES:
            # NaN/±Infinity arrive from encode_row as strings; any other string keeps the key out.
            if not types <= {float, int, str} or any(type(v) is str and v not in _NON_FINITE for v in col):
                continue
            col = [_NON_FINITE[v] if type(v) is str else v for v in col]
        try:
            values = array("d", col)
        except OverflowError:  # an int beyond float range: sent as JSON
            continue
        if _BIG_ENDIAN:
            values.byteswap()
        numbers[k] = base64.b64encode(values.tobytes()).decode("ascii")
    other = {}
    width = len(numbers)
    for i, d in enumerate(datas):
        if len(d) != width:  # every numbers key is in every row: a row with more keys has other cells
            other[str(i)] = {k: v for k, v in d.items() if k not in numbers}
    body = {"step": [r[0] for r in rows], "time": [r[1] for r in rows], "numbers": numbers}
    if other:
        body["other"] = other
    return body


def rows_as_dicts(rows):
    """(step, ms, data) rows as the server's `rows` form (offline runs record these)."""
    return [{"step": s, "data": d, "at": iso_of_ms(ms)} for s, ms, d in rows]


class HistorySender:
    """Posts history batches from one background thread, in order, so `log()` does not wait for
    the server. A failed batch stays queued: `drain()` (at finish) sends what is left from the
    calling thread and raises if the server still refuses it, so no row is dropped silently."""

    MAX_QUEUED = 4  # batches (of up to 5,000 rows); beyond this log() waits: bounded memory when the server is slow

    def __init__(self, post):
        self._post = post
        self._queue = collections.deque()
        self._cv = threading.Condition()
        self._thread = None
        self._error = None

    def submit(self, rows):
        """Queues a batch (never dropped). Waits while the queue is full; when the server keeps
        failing, raises the failure here (the batch stays queued for the next try)."""
        with self._cv:
            self._queue.append(rows)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="amphora-history", daemon=True)
                self._thread.start()
            self._cv.notify_all()
            while len(self._queue) > self.MAX_QUEUED and self._thread.is_alive():
                self._cv.wait(1.0)
            if self._error is not None and len(self._queue) > self.MAX_QUEUED:
                raise CommError(getattr(self._error, "code", None) or "unreachable",
                                f"The server did not take logged history ({self._error}); {sum(len(b) for b in self._queue)} rows are "
                                "kept and sent again at the next log() or finish(). Check that the server is running and reachable.",
                                exc=self._error)

    def _loop(self):
        while True:
            with self._cv:
                if not self._queue:
                    self._cv.notify_all()
                    if not self._cv.wait(5.0) and not self._queue:
                        self._thread = None  # idle: the next submit starts a new thread
                        return
                    continue
                rows = self._queue[0]
            try:
                self._post(rows)
            except Exception as e:  # kept queued; drain() retries and reports
                with self._cv:
                    self._error = e
                    self._cv.notify_all()
                return
            with self._cv:
                self._queue.popleft()
                self._error = None
                self._cv.notify_all()

    def drain(self):
        """Waits for queued batches; sends whatever a failure left behind from this thread."""
        with self._cv:
            while self._queue and self._error is None and self._thread is not None and self._thread.is_alive():
                self._cv.wait(1.0)
            left = list(self._queue)
            self._queue.clear()
        for i, rows in enumerate(left):
            try:
                self._post(rows)
            except Exception:
                with self._cv:
                    self._queue.extendleft(reversed(left[i:]))
                raise
        with self._cv:
            self._error = None


# ---------------------------------------------------------------------------------- reading back

def _decode(v):
    if type(v) is str and v in _NON_FINITE:
        return _NON_FINITE[v]
    return v


def _timestamp(iso):
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except (AttributeError, ValueError):
        return None


def _row(raw, started):
    """A stored row as W&B's history rows look: the data plus `_step`, `_timestamp` (seconds
    since the epoch) and `_runtime` (seconds since the run started)."""
    out = {k: _decode(v) for k, v in raw["data"].items()}
    out["_step"] = raw["step"]
    ts = _timestamp(raw.get("at"))
    if ts is not None:
        out["_timestamp"] = ts
        if started is not None:
            out["_runtime"] = max(0.0, ts - started)
    return out


def _select(row, keys):
    """W&B: with `keys`, only rows that have every key, reduced to those keys."""
    if keys is None:
        return row
    if not all(k in row for k in keys):
        return None
    return {k: row[k] for k in keys}


def scan(public_run, keys=None, page_size=1000, min_step=None, max_step=None):
    """Every row within [min_step, max_step) (W&B's bounds) in the order logged, fetched `page_size`
    rows at a time (pages count rows, as in W&B, so rows at repeated or lower steps are all seen)."""
    if keys is not None:
        if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
            raise TypeError(f"scan_history: keys must be a list of metric names, got {keys!r}.")
        keys = list(keys)
    if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
        raise ValueError(f"scan_history: page_size must be a whole number \u2265 1, got {page_size!r}.")
    started = _timestamp(public_run._data.get("createdAt"))
    page = min(page_size, 100_000)
    query = {"minStep": max(0, min_step or 0), "limit": page}
    if max_step is not None:
        if max_step <= query["minStep"]:
            return
        query["maxStep"] = max_step - 1
    offset = 0
    while True:
        items = public_run._client.http.get(public_run._run_route("/history"), query=dict(query, offset=offset))["items"]
        for raw in items:
            picked = _select(_row(raw, started), keys)
            if picked is not None:
                yield picked
        if len(items) < page:
            return
        offset += len(items)


def sampled(public_run, samples=500, keys=None, x_axis="_step", pandas=True):
    """W&B's `Run.history`: at most `samples` rows, evenly spread over the run (first and last
    kept); with `keys`, rows that have all of them (and `x_axis`), reduced to those keys."""
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
        raise ValueError(f"history: samples must be a whole number \u2265 1, got {samples!r}.")
    wanted = None if keys is None else [x_axis] + [k for k in keys if k != x_axis]
    rows = list(scan(public_run, keys=wanted, page_size=100_000))
    if len(rows) > samples:
        last = len(rows) - 1
        picks = sorted({round(i * last / (samples - 1)) for i in range(samples)}) if samples > 1 else [0]
        rows = [rows[i] for i in picks]
    if pandas:
        try:
            import pandas as pd
        except ImportError:
            warnings.warn("amphora: pandas is not installed, so history() returns a list of dicts; "
                          "install pandas or call history(pandas=False).", stacklevel=3)
            return rows
        return pd.DataFrame.from_records(rows)
    return rows
