"""Runs without a server: `init(mode="offline")` records everything in a run folder that
`amphora sync DIR` uploads later (W&B's `wandb sync`); `init(mode="disabled")` makes every call a
no-op that still returns working objects.

Offline run folder `<dir>/amphora/offline-run-<YYYYmmdd_HHMMSS>-<id>/`:
  run.json       what init was given: id, name, entity, project, jobType, group, config, tags, notes
  events.jsonl   one JSON object per line, in order: {"op": "patch", "body": UpdateRunRequest},
                 {"op": "history", "rows": [...]}, {"op": "files", "files": [{path, digest, size}]},
                 {"op": "artifact", "name", "type", "manifest", "description", "metadata", "aliases",
                  "tags", "ttlSeconds", "incremental", "use", "callSite"}
  run.json's "provenance" and the run file code/git.diff: the code provenance taken at init
  blobs/<sha256> the bytes of every saved file and artifact file (content-addressed copies, so
                 later edits of the user's files do not change what is synced)
"""
from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from typing import Any, NoReturn, Sequence

from .artifact import Artifact
from .errors import AmphoraError
from .history import rows_as_dicts
from .live_run import Run, _aliases, _now, _tag_list, json_value
from .paths import validate_manifest_path
from .provenance import run_call_site
from .reference import parse_reference
from .hashing import sha256_file

OFFLINE_FORMAT = 1


def new_run_id():
    return uuid.uuid4().hex[:8]


class _NoClient:
    """Stands in for the server connection: anything that would need it says so."""

    def __getattr__(self, item):
        raise AmphoraError("unsupported", "This needs the Amphora server, but the run is offline (init(mode=\"offline\")). "
                           "Sync it with `amphora sync DIR` and read it through amphora.Api() instead.")


class OfflineRun(Run):
    """A Run that appends what it does to its run folder instead of calling the server."""

    def __init__(self, data: dict[str, Any], folder: str, allow_val_change: bool = False) -> None:
        self.dir = folder
        os.makedirs(os.path.join(folder, "blobs"), exist_ok=True)
        self._events_lock = threading.Lock()
        with open(os.path.join(folder, "run.json"), "w", encoding="utf-8") as f:
            json.dump(dict(data, format=OFFLINE_FORMAT), f, indent=2)
        super().__init__(_NoClient(), dict(data, state="running", summary={}, createdAt=_now()),
                         allow_val_change=allow_val_change, media_dir=os.path.join(folder, "media-tmp"))

    def _start_heartbeat(self):
        pass  # nobody to beat to

    def _record(self, event):
        with self._events_lock, open(os.path.join(self.dir, "events.jsonl"), "a", encoding="utf-8") as f:
            f.write(json.dumps(event, allow_nan=False) + "\n")

    def _keep(self, local):
        """Copies a file into the run folder by content; returns (digest, size)."""
        digest, size = sha256_file(local)
        target = os.path.join(self.dir, "blobs", digest)
        if not os.path.exists(target):
            tmp = target + f".tmp-{os.getpid()}"
            shutil.copyfile(local, tmp)
            os.replace(tmp, target)
        return digest, size

    def _patch(self, body):
        self._record({"op": "patch", "body": body})
        for k in ("config", "summary"):
            if k in body:
                self._data[k] = dict(self._data.get(k) or {}, **body[k])
        for k in ("tags", "notes", "name"):
            if k in body:
                self._data[k] = body[k]
        if "state" in body:
            self._data["state"] = body["state"]

    def _flush_history(self, force):
        with self._rows_lock:
            rows, self._rows = self._rows, []
        if rows:
            self._record({"op": "history", "rows": rows_as_dicts(rows)})

    def _save_files(self, pairs):
        files = []
        for logical, local in pairs:
            validate_manifest_path(logical)
            digest, size = self._keep(local)
            files.append({"path": logical, "digest": digest, "size": size})
        self._record({"op": "files", "files": files})

    def log_artifact(self, artifact_or_path: Artifact | str | os.PathLike, name: str | None = None, type: str | None = None,
                     aliases: Sequence[str] | None = None, tags: Sequence[str] | None = None) -> Artifact:
        self._require_live("log an artifact")
        artifact = self._coerce_artifact(artifact_or_path, name, type)
        if tags is not None:
            artifact.tags = list(artifact.tags) + [t for t in _tag_list(tags) if t not in artifact.tags]
        self._record_artifact(artifact, aliases, use=False)
        return artifact

    def _record_artifact(self, artifact, aliases, use):
        if artifact._version is not None:
            raise AmphoraError("invalid_request", f"{artifact.qualified_name} is already logged; create a new Artifact to log new content.")
        manifest = {}
        for p, e in sorted(artifact._entries.items()):
            if e.get("_local") and not e.get("ref"):
                e["digest"], e["size"] = self._keep(e["_local"])
            manifest[p] = {k: v for k, v in e.items() if not k.startswith("_") and v is not None}
        event = {"op": "artifact", "name": artifact._name, "type": artifact.type, "manifest": manifest,
                 "metadata": json_value(artifact.metadata), "description": artifact.description,
                 "aliases": _aliases(([aliases] if isinstance(aliases, str) else list(aliases or [])) + list(artifact.aliases)),
                 "incremental": artifact._incremental, "use": use}
        event.update(artifact._log_fields())
        site = run_call_site(self)
        if site:
            event["callSite"] = site
        self._record(event)

    def use_artifact(self, artifact_or_name: str | Artifact, type: str | None = None, aliases: Sequence[str] | None = None,
                     use_as: str | None = None) -> Artifact:
        self._require_live("use an artifact")
        if isinstance(artifact_or_name, Artifact) and artifact_or_name._version is None:
            self._record_artifact(artifact_or_name, aliases, use=True)
            return artifact_or_name
        raise AmphoraError("unsupported", f"use_artifact({artifact_or_name if isinstance(artifact_or_name, str) else artifact_or_name.qualified_name!r}) needs the server to find that version, but the run is offline. "
                           "Run online to use logged artifacts (offline runs can use an Artifact they build).")

    def upsert_artifact(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError("upsert_artifact is not supported in offline runs: distributed versions are shared on "
                                  "the server. Log with log_artifact, or run online.")

    finish_artifact = upsert_artifact

    def logged_artifacts(self) -> NoReturn:
        raise AmphoraError("unsupported", f"logged_artifacts() needs the server; this run is offline (sync it with `amphora sync {self.dir}`).")

    used_artifacts = logged_artifacts

    def link_artifact(self, artifact: Artifact | None, target_path: str, aliases: Sequence[str] | None = None) -> NoReturn:
        raise AmphoraError("unsupported", f"link_artifact(..., {target_path!r}) needs the server (registries live there), but this run "
                           f"is offline. Sync it (`amphora sync {self.dir}`), then link the version with "
                           f"Api().artifact(\"NAME:vN\").link({target_path!r}).")

    def link_model(self, path: str | os.PathLike, registered_model_name: str, name: str | None = None,
                   aliases: Sequence[str] | None = None) -> NoReturn:
        self.link_artifact(None, f"wandb-registry-model/{registered_model_name}")

    def __repr__(self):
        return f"<Run {self.id} (offline, {self.dir})>"


def offline_folder(base_dir, run_id):
    stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime())
    return os.path.join(base_dir or os.getcwd(), "amphora", f"offline-run-{stamp}-{run_id}")


class DisabledRun(Run):
    """init(mode="disabled"): every call returns working objects and nothing is stored anywhere."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(_NoClient(), dict(data, state="running", summary={}, createdAt=_now()), allow_val_change=True)

    def _start_heartbeat(self):
        pass

    def _patch(self, body):
        for k in ("tags", "notes", "name"):
            if k in body:
                self._data[k] = body[k]

    def _flush_history(self, force):
        with self._rows_lock:
            self._rows = []

    def _media(self, key, value, step):
        return value

    def save(self, glob_str: str, base_path: str | None = None, policy: str = "live") -> list[str]:
        return []

    def log_artifact(self, artifact_or_path: Artifact | str | os.PathLike, name: str | None = None, type: str | None = None,
                     aliases: Sequence[str] | None = None, tags: Sequence[str] | None = None) -> Artifact:
        return self._coerce_artifact(artifact_or_path, name, type)

    def use_artifact(self, artifact_or_name: str | Artifact, type: str | None = None, aliases: Sequence[str] | None = None,
                     use_as: str | None = None) -> Artifact:
        if isinstance(artifact_or_name, Artifact):
            return artifact_or_name
        return Artifact(parse_reference(artifact_or_name).name, type or "unspecified")

    def upsert_artifact(self, artifact_or_path: Artifact | str | os.PathLike, name: str | None = None, type: str | None = None,
                        aliases: Sequence[str] | None = None, distributed_id: str | None = None) -> Artifact:
        return self._coerce_artifact(artifact_or_path, name, type)

    finish_artifact = upsert_artifact

    def logged_artifacts(self) -> list[Artifact]:
        return []

    def used_artifacts(self) -> list[Artifact]:
        return []

    def define_metric(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def link_artifact(self, artifact: Artifact, target_path: str, aliases: Sequence[str] | None = None) -> None:
        return None

    def log_model(self, path: str | os.PathLike, name: str | None = None, aliases: Sequence[str] | None = None) -> None:
        return None

    def link_model(self, path: str | os.PathLike, registered_model_name: str, name: str | None = None,
                   aliases: Sequence[str] | None = None) -> None:
        return None

    def __repr__(self):
        return f"<Run {self.id} (disabled)>"
