"""W&B's `define_metric`: which summary a logged metric gets (min, max, mean, first, last, best or
none) and which rows get the step metric filled in (step_sync). Mirrors src/core/metricSummary.ts
rule for rule (tests compare the two through python/tests/ts_core_oracle.ts)."""
import math

from ._js import js_stringify
from .errors import AmphoraError

SUMMARY_KINDS = ("min", "max", "mean", "first", "last", "best", "none")


class MetricDefinition:
    """What `run.define_metric` returns: `name`, `step_metric`, `step_sync`, `summary`, `goal`."""

    def __init__(self, name: str, step_metric: str | None, step_sync: bool | None, summary: list[str], goal: str | None) -> None:
        self.name, self.step_metric, self.step_sync, self.summary, self.goal = name, step_metric, step_sync, summary, goal

    def __repr__(self):
        return f'<Metric {self.name} summary={",".join(self.summary) or "last"} goal={self.goal} step_metric={self.step_metric}>'


class MetricSummaries:
    """The definitions of one run and what has been logged for them."""

    def __init__(self):
        self._defs = {}
        self._resolved = {}  # key -> its definition (or None); cleared by define(). log() asks per key per row.
        self._step_metrics = False  # any definition with a step_metric: only then must rows be filled in
        self._tallies = {}
        self._last_values = {}

    def define(self, name, step_metric=None, step_sync=None, summary=None, goal=None, overwrite=None):
        if not isinstance(name, str) or not name or ("*" in name and not name.endswith("*")):
            raise AmphoraError("invalid_request", 'define_metric: name must be a metric name or a glob ending in "*" '
                               f"such as \"val/*\", got {js_stringify(name)}.")
        kinds = _parse_summary(summary)
        goal = _parse_goal(goal)
        before = None if overwrite else self._defs.get(name)
        merged = list(before.summary) if before else []
        merged += [k for k in kinds if k not in merged]
        d = MetricDefinition(name,
                             step_metric if step_metric is not None else (before.step_metric if before else None),
                             step_sync if step_sync is not None else (before.step_sync if before else None),
                             merged, goal if goal is not None else (before.goal if before else None))
        if "best" in d.summary and not d.goal:
            raise AmphoraError("invalid_request", f'define_metric("{name}", summary="best") needs goal="minimize" or '
                               'goal="maximize" to know which value is best.')
        self._defs[name] = d
        self._resolved.clear()
        self._step_metrics = any(x.step_metric for x in self._defs.values())
        return d

    def definition_of(self, key):
        """The key's own definition, else the last defined glob that matches it."""
        try:
            return self._resolved[key]
        except KeyError:
            found = self._resolved[key] = self._lookup(key)
            return found

    def _lookup(self, key):
        own = self._defs.get(key)
        if own is not None:
            return own
        found = None
        for d in self._defs.values():
            if d.name.endswith("*") and key.startswith(d.name[:-1]):
                found = d
        return found

    def sync_steps(self, row):
        """Fills in step metrics (step_sync defaults to true, as in W&B)."""
        if not self._step_metrics:  # the common case: no step metric defined, the row is as logged
            self._last_values.update(row)
            return row
        out = dict(row)
        for key in row:
            d = self.definition_of(key)
            if d is None or not d.step_metric or d.step_sync is False or d.step_metric in out:
                continue
            if d.step_metric in self._last_values:
                out[d.step_metric] = self._last_values[d.step_metric]
        self._last_values.update(out)
        return out

    def summarize(self, row):
        """Summary changes for one committed row: the last value by default, else the defined kinds
        ("none": no entry)."""
        if not self._defs:  # nothing defined: every key's summary is its last value
            return row
        changes = {}
        for key, value in row.items():
            d = self.definition_of(key)
            if d is None or not d.summary:
                changes[key] = value
                continue
            if "none" in d.summary:
                continue
            t = self._tally(key, value)
            changes[key] = {k: v for k, v in ((k, _kind_value(k, t, d.goal)) for k in d.summary) if v is not None}
        return changes

    def _tally(self, key, value):
        t = self._tallies.setdefault(key, {"seen": False, "min": None, "max": None, "sum": 0, "count": 0, "first": None, "last": None})
        if not t["seen"]:
            t["first"] = value
        t["seen"] = True
        t["last"] = value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            t["min"] = value if t["min"] is None else min(t["min"], value)
            t["max"] = value if t["max"] is None else max(t["max"], value)
            t["sum"] += value
            t["count"] += 1
        return t


def _kind_value(kind, t, goal):
    if kind == "mean":
        return t["sum"] / t["count"] if t["count"] else None
    if kind == "best":
        return t["max"] if goal == "maximize" else t["min"]
    return t.get(kind)


def _parse_summary(summary):
    if summary is None:
        return []
    if not isinstance(summary, str):
        raise AmphoraError("invalid_request", f'define_metric: summary must be a string such as "min" or "min,max", got {js_stringify(summary)}.')
    kinds = [s.strip().lower() for s in summary.split(",") if s.strip()]
    for k in kinds:
        if k not in SUMMARY_KINDS:
            raise AmphoraError("invalid_request", f'define_metric: summary "{k}" is not one of {", ".join(SUMMARY_KINDS)}.')
    return kinds


def _parse_goal(goal):
    if goal is None:
        return None
    g = str(goal).lower()
    if g in ("minimize", "min"):
        return "minimize"
    if g in ("maximize", "max"):
        return "maximize"
    raise AmphoraError("invalid_request", f'define_metric: goal must be "minimize" or "maximize", got {js_stringify(goal)}.')
