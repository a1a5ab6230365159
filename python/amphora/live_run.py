"""Run: one execution of a pipeline step. Logs metrics, files and artifacts; uses artifacts."""
from __future__ import annotations

import builtins
import glob
import math
import os
import tempfile
import threading
import time
import warnings
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, Sequence
from datetime import datetime, timezone

from .artifact import Artifact, unwrap_version
from .data_types import Image, Table
from .errors import AmphoraError
from .history import HistorySender, encode_columns, encode_row, now_ms
from .provenance import run_call_site
from .metric_summary import MetricDefinition, MetricSummaries
from .names import validate_alias, validate_run_tags
from .paths import validate_manifest_path
from .public import PublicRun
from .registries import REGISTRY_PREFIX
from . import session
from .reference import ArtifactRef, format_reference, parse_reference
from .transfer import Stats
from .transport import API_PREFIX, enc

if TYPE_CHECKING:  # for hints only: client imports this module
    from .client import Client

HEARTBEAT_INTERVAL_S = 10.0
_HISTORY_BATCH = 5000
_HISTORY_FLUSH_S = 2.0


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_value(v):
    """Plain JSON for what pipelines log: numbers, strings, tensors/arrays (tolist/item), nesting."""
    if v is None or isinstance(v, (bool, str, int)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else ("NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity"))
    if isinstance(v, dict):
        return {str(k): json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [json_value(x) for x in v]
    if hasattr(v, "detach"):
        v = v.detach()
    if hasattr(v, "cpu"):
        v = v.cpu()
    if hasattr(v, "tolist"):
        return json_value(v.tolist())
    if hasattr(v, "item"):
        return json_value(v.item())
    return str(v)


class _RunMapping(MutableMapping):
    """A run's dict-like record in `self._data`, by key or as attributes; setting a key goes through
    `update`, which persists it."""

    def __getitem__(self, key):
        return self._data[key]

    def __setitem__(self, key, value):
        self.update({key: value})

    def __delitem__(self, key):
        del self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def __getattr__(self, key):
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._data[key]
        except KeyError:
            raise self._no_key(key) from None

    def _no_key(self, key):
        """What reading a missing key as an attribute raises."""
        return AttributeError(key)


class Config(_RunMapping):
    """Run configuration: `config.lr`, `config["lr"]`, `config.update({...})`. Changes reach the server."""

    def __init__(self, run: Run | None = None, data: dict[str, Any] | None = None, allow_val_change: bool = False) -> None:
        object.__setattr__(self, "_run", run)
        object.__setattr__(self, "_data", dict(data or {}))
        object.__setattr__(self, "_allow_val_change", bool(allow_val_change))  # init(allow_val_change=True)

    def _no_key(self, key):
        return AttributeError(f'config has no key {key!r} (keys: {", ".join(self._data) or "none"})')

    def __setattr__(self, key, value):
        if key.startswith("_"):
            object.__setattr__(self, key, value)
        else:
            self.update({key: value})

    def update(self, other: Any = None, allow_val_change: bool | None = None, **kwargs: Any) -> None:
        """Adds keys. Changing the value of an existing key raises ValueError unless
        allow_val_change=True (here or in init), as in W&B; setting the same value again is fine."""
        changes = dict(_as_dict(other))
        changes.update(kwargs)
        changes = {str(k): json_value(v) for k, v in changes.items()}
        allowed = self._allow_val_change if allow_val_change is None else allow_val_change
        if not allowed:
            for k, v in changes.items():
                if k in self._data and self._data[k] != v:
                    raise AmphoraError("invalid_request", f"config.{k} is already {self._data[k]!r}; changing it to {v!r} needs "
                                       f"config.update({{{k!r}: ...}}, allow_val_change=True) (or init(allow_val_change=True)).")
        self._data.update(changes)
        if self._run is not None and changes:
            self._run._patch({"config": changes})

    def setdefaults(self, d: Any) -> None:
        self.update({k: v for k, v in _as_dict(d).items() if k not in self._data})

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __repr__(self):
        return f"Config({self._data!r})"


class Summary(_RunMapping):
    """Run summary (dict-like). Defaults to the last value of each logged key; `update` persists now."""

    def __init__(self, run: Run | None = None, data: dict[str, Any] | None = None) -> None:
        self._run = run
        self._data = dict(data or {})
        self._dirty = {}
        self._lock = threading.Lock()


    def update(self, other: Any = None, **kwargs: Any) -> None:
        changes = dict(_as_dict(other))
        changes.update(kwargs)
        changes = {str(k): json_value(v) for k, v in changes.items()}
        with self._lock:
            self._data.update(changes)
            self._dirty.update(changes)
        self._flush()

    def _track(self, row):
        with self._lock:
            self._data.update(row)
            self._dirty.update(row)

    def _flush(self):
        with self._lock:
            dirty, self._dirty = self._dirty, {}
        if dirty and self._run is not None:
            self._run._patch({"summary": dirty})

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __repr__(self):
        return f"Summary({self._data!r})"


def _as_dict(obj):
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "keys") and hasattr(obj, "__getitem__"):
        return {k: obj[k] for k in obj.keys()}
    if hasattr(obj, "__dict__"):  # argparse.Namespace and similar
        return {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    raise AmphoraError("invalid_request", f"config must be a dict (or an argparse Namespace), got {type(obj).__name__}.")


class Run(PublicRun):
    """A live run (from `amphora.init`). Use it as a context manager: an exception marks it failed."""

    config = None  # live Config / Summary objects (instead of PublicRun's read-only copies)
    summary = None

    def __init__(self, client: Client, data: dict[str, Any], allow_val_change: bool = False, media_dir: str | None = None) -> None:
        super().__init__(client, data)
        self.config = Config(self, data.get("config"), allow_val_change=allow_val_change)
        self.summary = Summary(self, data.get("summary"))
        self._step = 0  # the current step: its row collects data until it is committed
        self._pending_row = {}
        self._metrics = MetricSummaries()  # define_metric: summaries and step sync
        self._rows_lock = threading.Lock()
        self._rows = []  # (step, ms since the epoch, data) per committed row
        self._history_sender = HistorySender(lambda rows: self._client.http.post(self._run_route("/history"), {"columns": encode_columns(rows)}))
        self._last_flush = time.monotonic()
        self._finished = False
        self._used = {}
        self._media_parent = media_dir
        self._media_dir = None
        self._stop = threading.Event()
        self._start_heartbeat()

    def _start_heartbeat(self):
        self._heartbeat = threading.Thread(target=self._beat, name=f"amphora-heartbeat-{self.id}", daemon=True)
        self._heartbeat.start()

    @property
    def tags(self) -> tuple[str, ...]:  # type: ignore[override]  # a tuple here, as in W&B's live run
        """The run's tags (a tuple, as in W&B); assign a list or tuple to replace them."""
        return tuple(self._data.get("tags") or ())

    @tags.setter
    def tags(self, value: Sequence[str]) -> None:
        self._require_live("set tags")
        self._patch({"tags": validate_run_tags(value)})

    @property
    def notes(self) -> str | None:
        return self._data.get("notes")

    @notes.setter
    def notes(self, value: str | None) -> None:
        self._require_live("set notes")
        self._patch({"notes": None if value is None else str(value)})

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.finish(exit_code=1 if exc_type is not None else 0)
        return False

    def _beat(self):
        while not self._stop.wait(HEARTBEAT_INTERVAL_S):
            try:
                self._client.http.post(self._run_route("/heartbeat"), {})
                self._flush_history(force=False)
                self.summary._flush()
            except Exception:  # a missed beat is retried at the next interval
                pass

    def _patch(self, body):
        self._data = self._client.http.patch(self._run_route(), body)

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Flushes everything and marks the run finished (or failed for a non-zero exit code)."""
        if self._finished:
            return
        self._finished = True
        self._stop.set()
        try:
            self._commit_step()
            self._flush_history(force=True)
            self.summary._flush()
            self._patch({"state": "failed" if exit_code else "finished"})
        finally:
            session.forget(self)

    @property
    def finished(self) -> bool:
        return self._finished

    # ------------------------------------------------------------------ metrics and files
    def log(self, data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        """W&B's step rules: data joins the current step's row; `commit` (default True without
        `step`, False with it) closes the row and moves to the next step. A larger `step` closes the
        current row first; a smaller one is dropped with a warning."""
        if not isinstance(data, dict):
            raise AmphoraError("invalid_request", f"log expects a dict of metrics such as {{\"loss\": 0.3}}, got {type(data).__name__}.")
        self._require_live("log")
        if step is not None:
            if isinstance(step, bool) or not isinstance(step, int) or step < 0:
                raise AmphoraError("invalid_request", f"log: step must be a whole number \u2265 0, got {step!r}.")
            if step < self._step:
                warnings.warn(f"amphora: tried to log to step {step}, which is less than the current step {self._step}. Steps must "
                              f'increase, so this data is ignored: {", ".join(map(str, data))}',
                              stacklevel=2)
                return
            if step > self._step:
                self._commit_step()
                self._step = step
        self._pending_row.update(encode_row(data, lambda k, v: self._media(k, v, self._step), json_value))
        if commit if commit is not None else step is None:
            self._commit_step()
            self._step += 1

    def _commit_step(self):
        """Closes the current step's row (if it has data) and hands it to the history batcher."""
        row, self._pending_row = self._pending_row, {}
        if not row:
            return
        row = self._metrics.sync_steps(row)
        with self._rows_lock:
            self._rows.append((self._step, now_ms(), row))
        self.summary._track(self._metrics.summarize(row))
        self._flush_history(force=False)

    def _media(self, key, value, step):
        """Images and tables become run files; the history keeps a pointer to them."""
        items = value if isinstance(value, (list, tuple)) and value and all(isinstance(v, (Image, Table)) for v in value) else None
        if not isinstance(value, (Image, Table)) and items is None:
            return value
        if self._media_dir is None:
            if self._media_parent:
                os.makedirs(self._media_parent, exist_ok=True)
            self._media_dir = tempfile.mkdtemp(prefix="amphora-media-", dir=self._media_parent)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
        written = []
        for i, obj in enumerate(items if items is not None else [value]):
            folder = os.path.join(self._media_dir, "images" if isinstance(obj, Image) else "tables")
            os.makedirs(folder, exist_ok=True)
            fname, desc = obj._write(folder, f"{safe}_{step}_{i}")
            logical = f"media/{os.path.basename(folder)}/{fname}"
            self._save_files([(logical, os.path.join(folder, fname))])
            desc["path"] = logical
            written.append(desc)
        if items is None:
            return written[0]
        return {"_type": "images" if isinstance(items[0], Image) else "tables", "count": len(written), "items": written}

    def _flush_history(self, force):
        with self._rows_lock:
            due = force or len(self._rows) >= _HISTORY_BATCH or time.monotonic() - self._last_flush >= _HISTORY_FLUSH_S
            if not due or not self._rows:
                if force:
                    self._history_sender.drain()
                return
            rows, self._rows = self._rows, []
            self._last_flush = time.monotonic()
        for i in range(0, len(rows), 10_000):
            self._history_sender.submit(rows[i : i + 10_000])
        if force:
            self._history_sender.drain()

    def save(self, glob_str: str, base_path: str | None = None, policy: str = "live") -> list[str]:
        """Saves files (a path or glob) with the run; returns the saved logical paths."""
        self._require_live("save files")
        matches = sorted(glob.glob(glob_str, recursive=True)) if glob.has_magic(glob_str) else [glob_str]
        files = [m for m in matches if os.path.isfile(m)]
        if not files:
            raise AmphoraError("not_found", f'save: nothing matches "{glob_str}" (relative to {os.getcwd()}). Save the file first, then call '
                               "save with its path.")
        pairs = []
        for f in files:
            if base_path is not None:
                logical = os.path.relpath(f, base_path)
            elif os.path.isabs(f) or os.path.normpath(f).startswith(".."):
                logical = os.path.basename(f)
            else:
                logical = os.path.normpath(f)
            pairs.append((logical.replace(os.sep, "/"), f))
        self._save_files(pairs)
        return [p for p, _ in pairs]

    def _save_files(self, pairs):
        records = []
        for logical, local in pairs:
            validate_manifest_path(logical)
            digest, size = self._client.transfer.stat_cache.digest(local)
            records.append({"path": logical, "digest": digest, "size": size, "local": local})
        self._client.transfer.stat_cache.flush()
        self._client.transfer.upload([{"digest": r["digest"], "size": r["size"], "path": r["local"]} for r in records], Stats())
        self._client.http.put(self._run_route("/files"), {"files": [{k: r[k] for k in ("path", "digest", "size")} for r in records]})

    def _require_live(self, what):
        if self._finished:
            raise AmphoraError("invalid_request", f"Cannot {what}: run {self.path} is finished. Start a new run with amphora.init().")

    # ------------------------------------------------------------------ artifacts
    def log_artifact(self, artifact_or_path: Artifact | str | os.PathLike, name: str | None = None, type: str | None = None,
                     aliases: Sequence[str] | None = None, tags: Sequence[str] | None = None) -> Artifact:
        """Uploads what the server lacks and commits a version produced by this run. Unchanged
        content gives back the existing version (and moves `latest` and `aliases` to it). A path
        (file or folder) is logged as artifact `name` (default `run-<run id>-<file name>`) of `type`
        (default "unspecified"); `tags` are stored on the version."""
        site = run_call_site(self)
        self._require_live("log an artifact")
        artifact = self._coerce_artifact(artifact_or_path, name, type)
        if artifact._version is not None:
            raise AmphoraError("invalid_request", f"{artifact.qualified_name} is already logged; create a new Artifact to log new content, or "
                               "change its aliases with artifact.aliases and artifact.save().")
        if tags is not None:
            artifact.tags = list(artifact.tags) + [t for t in _tag_list(tags) if t not in artifact.tags]
        aliases = _aliases(([aliases] if isinstance(aliases, str) else list(aliases or [])) + list(artifact.aliases))
        self._merge_incremental(artifact)
        manifest = artifact._prepare_upload(self._client, optimistic=True)
        body = {"type": artifact.type, "manifest": manifest, "metadata": json_value(artifact.metadata), "runId": self.id}
        if site:
            body["callSite"] = site
        body.update(artifact._log_fields())
        if artifact.description is not None:
            body["description"] = artifact.description
        if aliases:
            body["aliases"] = aliases
        answer = artifact._post_version(self._client, self._client.collection_path(self.entity, self.project, artifact._name) + "/versions", body)
        artifact._committed(self._client, unwrap_version(answer), manifest)
        return artifact

    def _merge_incremental(self, artifact):
        """Artifact(..., incremental=True): the files of the collection's latest version, plus the draft's."""
        if not artifact._incremental:
            return
        c = self._client
        try:
            answer = c.http.get(c.version_path(self.entity, self.project, artifact._name, "latest") + "/manifest")
        except AmphoraError as e:
            if e.code == "not_found":
                return  # first version of the collection
            raise
        for p, e in answer["entries"].items():
            artifact._entries.setdefault(p, dict(e))

    def _coerce_artifact(self, artifact_or_path, name, type):
        if isinstance(artifact_or_path, Artifact):
            if name is not None and name != artifact_or_path._name or type is not None and type != artifact_or_path.type:
                raise AmphoraError("invalid_request", "name= and type= only apply when logging a path; the Artifact "
                                   f"already has name {artifact_or_path._name!r} and type {artifact_or_path.type!r}.")
            return artifact_or_path
        if isinstance(artifact_or_path, (str, os.PathLike)):
            path = os.fspath(artifact_or_path)
            a = Artifact(name or f"run-{self.id}-{os.path.basename(os.path.abspath(path))}", type or "unspecified")
            if os.path.isdir(path):
                a.add_dir(path)
            else:
                a.add_file(path)
            return a
        raise AmphoraError("invalid_request", f"log_artifact expects an amphora.Artifact or a file/folder path, got {builtins.type(artifact_or_path).__name__}.")

    def use_artifact(self, artifact_or_name: str | Artifact, type: str | None = None, aliases: Sequence[str] | None = None,
                     use_as: str | None = None) -> Artifact:
        """Declares that this run uses a version (input edge) and returns it. Idempotent. Accepts a
        reference string (`mnist-raw:latest`, `project/name:v1`, `entity/project/name:alias`) or an Artifact
        (a draft one is logged first, without a producer)."""
        site = run_call_site(self)
        self._require_live("use an artifact")
        if use_as is not None:
            raise NotImplementedError("use_artifact(use_as=...) is not supported by Amphora (W&B deprecated it); leave it out.")
        c = self._client
        if isinstance(artifact_or_name, Artifact):
            artifact = artifact_or_name
            if artifact._version is None:
                manifest = artifact._prepare_upload(c, optimistic=True)
                body = {"type": artifact.type, "manifest": manifest, "metadata": json_value(artifact.metadata)}
                body.update(artifact._log_fields())
                if artifact.description is not None:
                    body["description"] = artifact.description
                if aliases:
                    body["aliases"] = _aliases(aliases)
                answer = artifact._post_version(c, c.collection_path(self.entity, self.project, artifact._name) + "/versions", body)
                artifact._committed(c, unwrap_version(answer), manifest)
            ref = f"{artifact.entity}/{artifact.project}/{artifact._name}:{artifact.version}"
        elif isinstance(artifact_or_name, str):
            parsed = parse_reference(artifact_or_name)
            ref = format_reference(_qualify(parsed, self.entity, self.project))
            if type is not None:  # check before recording the input edge
                found = c.http.get(API_PREFIX + "/resolve", query={"ref": ref})
                if found["type"] != type:
                    raise AmphoraError("type_mismatch", f'Artifact "{ref}" has type "{found["type"]}", not "{type}".')
        else:
            raise AmphoraError("invalid_request", "use_artifact expects a reference such as \"mnist-raw:latest\" or an "
                               f"amphora.Artifact, got {builtins.type(artifact_or_name).__name__}.")
        answer = c.http.post(self._run_route("/inputs"), dict({"ref": ref}, **({"callSite": site} if site else {})))
        version = unwrap_version(answer) if isinstance(answer, dict) and "digest" in unwrap_version(answer) else None
        if version is None:
            version = c.http.get(API_PREFIX + "/resolve", query={"ref": ref})
        used = self._used.get(version["id"])
        if isinstance(artifact_or_name, Artifact):
            artifact_or_name._apply_version(version)
            used = artifact_or_name
        elif used is None:
            used = Artifact._from_version(c, version)
        self._used[version["id"]] = used
        return used

    def upsert_artifact(self, artifact_or_path: Artifact | str | os.PathLike, name: str | None = None, type: str | None = None,
                        aliases: Sequence[str] | None = None, distributed_id: str | None = None) -> Artifact:
        """Adds this artifact's files to the group's shared pending version (parallel writers);
        `aliases` are applied when the version is finished (by whichever writer finishes it)."""
        site = run_call_site(self)
        self._require_live("upsert an artifact")
        artifact = self._coerce_artifact(artifact_or_path, name, type)
        did = self._distributed_id(distributed_id, "upsert_artifact")
        manifest = artifact._prepare_upload(self._client)
        body = {"type": artifact.type, "manifest": manifest, "runId": self.id, "metadata": json_value(artifact.metadata)}
        if site:
            body["callSite"] = site
        if artifact.description is not None:
            body["description"] = artifact.description
        pending_aliases = _aliases(([aliases] if isinstance(aliases, str) else list(aliases or [])) + list(artifact.aliases))
        if pending_aliases:
            body["aliases"] = pending_aliases
        artifact.pending = self._client.http.post(
            self._client.collection_path(self.entity, self.project, artifact._name) + "/pending/" + enc(did), body)
        return artifact

    def finish_artifact(self, artifact_or_path: Artifact | str | os.PathLike, name: str | None = None, type: str | None = None,
                        aliases: Sequence[str] | None = None, distributed_id: str | None = None) -> Artifact:
        """Commits the group's pending version (after adding this artifact's own files, if any)."""
        self._require_live("finish an artifact")
        artifact = self._coerce_artifact(artifact_or_path, name, type)
        did = self._distributed_id(distributed_id, "finish_artifact")
        if artifact._entries:
            self.upsert_artifact(artifact, distributed_id=did)
        body = {"runId": self.id, "metadata": json_value(artifact.metadata)}
        body.update(artifact._log_fields())
        all_aliases = _aliases(([aliases] if isinstance(aliases, str) else list(aliases or [])) + list(artifact.aliases))
        if all_aliases:
            body["aliases"] = all_aliases
        if artifact.description is not None:
            body["description"] = artifact.description
        path = self._client.collection_path(self.entity, self.project, artifact._name) + "/pending/" + enc(did) + "/finish"
        answer = self._client.http.post(path, body)
        artifact._committed(self._client, unwrap_version(answer))
        artifact._manifest_loaded = False
        return artifact

    def define_metric(self, name: str, step_metric: str | None = None, step_sync: bool | None = None, hidden: bool | None = None,
                      summary: str | None = None, goal: str | None = None, overwrite: bool | None = None) -> MetricDefinition:
        """W&B's metric definitions: `summary` ("min", "max", "mean", "first", "last", "best" with `goal`,
        "none", or several comma-separated) decides what the run summary keeps for `name` (or a glob
        such as "val/*"); rows logging it without `step_metric` get its last value (`step_sync`)."""
        if hidden:
            raise NotImplementedError("define_metric(hidden=True) is not supported by Amphora: every logged metric "
                                      "is shown; leave hidden out.")
        return self._metrics.define(name, step_metric=step_metric, step_sync=step_sync, summary=summary, goal=goal,
                                    overwrite=overwrite)

    # ------------------------------------------------------------------ registries (W&B's Registry)
    def link_artifact(self, artifact: Artifact, target_path: str, aliases: Sequence[str] | None = None) -> Artifact:
        """Links a version into a registry collection (`wandb-registry-NAME/COLLECTION`); a draft is
        logged by this run first. Returns the linked version (its lineage is the source's)."""
        self._require_live("link an artifact")
        if not isinstance(artifact, Artifact):
            raise AmphoraError("invalid_request", f"link_artifact expects an amphora.Artifact, got {builtins.type(artifact).__name__}; fetch one with "
                               "run.use_artifact(\"name:alias\") or Api().artifact(...).")
        if artifact.is_draft():
            self.log_artifact(artifact)
        return artifact.link(target_path, aliases=aliases)

    def log_model(self, path: str | os.PathLike, name: str | None = None, aliases: Sequence[str] | None = None) -> Artifact:
        """Logs a model file or folder as an artifact of type "model" produced by this run (default name
        `run-<run id>-<file name>`)."""
        return self.log_artifact(path, name=name, type="model", aliases=aliases)

    def use_model(self, name: str) -> str:
        """Uses and downloads a model artifact; returns the path of its only file, or of its folder."""
        artifact = self.use_artifact(name)
        if "model" not in artifact.type.lower():
            raise AmphoraError("type_mismatch", f'use_model({name!r}): the artifact has type "{artifact.type}"; use_model is for model '
                               'artifacts, use run.use_artifact(...).download() for others.')
        root = artifact.download()
        entries = os.listdir(root)
        return os.path.join(root, entries[0]) if len(entries) == 1 else root

    def link_model(self, path: str | os.PathLike, registered_model_name: str, name: str | None = None,
                   aliases: Sequence[str] | None = None) -> Artifact:
        """Logs the model at `path` (as `name`, type "model") and links it into the model registry's
        collection `registered_model_name`, which appears on first use."""
        if "/" in registered_model_name or ":" in registered_model_name:
            raise AmphoraError("invalid_request", f"link_model: give only the registered model's name ({registered_model_name!r} has an entity, "
                               "project or version in it).")
        model = self.log_model(path, name=name)
        return self.link_artifact(model, f'{self.entity}/{REGISTRY_PREFIX + "model"}/{registered_model_name}',
                                  aliases=aliases)

    def _distributed_id(self, distributed_id, what):
        did = distributed_id or self.group
        if not did:
            raise AmphoraError("invalid_request", f"{what} needs a run group: start the run with amphora.init(group=\"...\") "
                               "(all writers use the same group), or pass distributed_id=.")
        return did

    def __repr__(self):
        return f'<Run {self.path} ({self.name}, {"finished" if self._finished else "running"})>'


def _aliases(aliases):
    if aliases is None:
        return []
    if isinstance(aliases, str):
        aliases = [aliases]
    out = []
    for a in aliases:
        if a != "latest":
            validate_alias(a)
        if a not in out:
            out.append(a)
    return out


def _tag_list(tags):
    return [tags] if isinstance(tags, str) else list(tags)



def _qualify(ref, entity, project):
    return ArtifactRef(name=ref.name, selector=ref.selector, entity=ref.entity or entity, project=ref.project or project,
                       is_version=ref.is_version, explicit_selector=ref.explicit_selector)
