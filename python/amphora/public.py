"""Runs as read through the API (what logged_by/used_by/Api().run return)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Sequence

from .errors import AmphoraError
from .names import validate_run_tags
from .wire_fields import ProjectRecord, WireField

if TYPE_CHECKING:  # for hints only: both import this module
    from .artifact import Artifact
    from .client import Client


class PublicRun(ProjectRecord):
    def __init__(self, client: Client, data: dict[str, Any]) -> None:
        self._client = client
        self._data = data

    @classmethod
    def _fetch(cls, client, entity, project, run_id):
        return cls(client, client.http.get(client.run_path(entity, project, run_id)))

    def _refresh(self):
        self._data = self._client.http.get(self._client.run_path(self.entity, self.project, self.id))
        return self

    id = WireField[str]("id")
    job_type = WireField[str | None]("jobType", optional=True)
    group = WireField[str | None]("group", optional=True)
    state = WireField[str | None]("state", optional=True)
    finished_at = WireField[str | None]("finishedAt", optional=True)
    heartbeat_at = WireField[str | None]("heartbeatAt", optional=True)

    @property
    def config(self) -> dict[str, Any]:
        """A copy of the run's config as the server holds it."""
        return dict(self._data.get("config") or {})

    @property
    def summary(self) -> dict[str, Any]:
        """A copy of the run's summary metrics as the server holds them."""
        return dict(self._data.get("summary") or {})

    @property
    def tags(self) -> list[str]:
        """The run's tags as a list you may change; `update()` saves them (W&B's public run)."""
        if getattr(self, "_tags_edit", None) is None:
            self._tags_edit = list(self._data.get("tags") or [])
        return self._tags_edit

    @tags.setter
    def tags(self, value: Sequence[str]) -> None:
        self._tags_edit = list(value)

    @property
    def notes(self) -> str | None:
        return self._data.get("notes")

    @notes.setter
    def notes(self, value: str | None) -> None:
        self._data["notes"] = value
        self._notes_changed = True

    def update(self) -> PublicRun:
        """Saves changed tags and notes to the server."""
        body = {}
        if getattr(self, "_tags_edit", None) is not None and self._tags_edit != list(self._data.get("tags") or []):
            body["tags"] = validate_run_tags(self._tags_edit)
        if getattr(self, "_notes_changed", False):
            body["notes"] = None if self._data.get("notes") is None else str(self._data["notes"])
        if body:
            self._data = self._client.http.patch(self._run_route(), body)
        self._tags_edit, self._notes_changed = None, False
        return self

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}"

    def _run_route(self, suffix=""):
        return self._client.run_path(self.entity, self.project, self.id) + suffix

    def logged_artifacts(self) -> list[Artifact]:
        answer = self._client.http.get(self._run_route("/outputs"))
        return [self._client.artifact_from_version(v) for v in answer["items"]]

    def used_artifacts(self) -> list[Artifact]:
        answer = self._client.http.get(self._run_route("/inputs"))
        return [self._client.artifact_from_version(v) for v in answer["items"]]

    def history(self, samples: int = 500, keys: Sequence[str] | None = None, x_axis: str = "_step", pandas: bool = True,
                stream: str = "default") -> Any:
        """W&B's sampled history: at most `samples` rows spread evenly over the run, each with
        `_step`, `_timestamp` and `_runtime`; `keys` keeps rows holding all of them (and `x_axis`),
        reduced to those. A DataFrame when pandas is installed and `pandas=True`, else a list of
        dicts. NaN and infinities come back as floats."""
        if stream != "default":
            raise NotImplementedError(f"history(stream={stream!r}): Amphora records no system metrics; use stream=\"default\".")
        from .history import sampled

        return sampled(self, samples=samples, keys=keys, x_axis=x_axis, pandas=pandas)

    def scan_history(self, keys: Sequence[str] | None = None, page_size: int = 1000, min_step: int | None = None,
                     max_step: int | None = None) -> Iterator[dict[str, Any]]:
        """Every history row (not sampled), in step order, fetched `page_size` rows at a time;
        `min_step` <= _step < `max_step` as in W&B; `keys` keeps rows holding all of them."""
        from .history import scan

        return scan(self, keys=keys, page_size=page_size, min_step=min_step, max_step=max_step)

    def files(self) -> list[dict[str, Any]]:
        return self._client.http.get(self._run_route("/files"))["items"]

    def __eq__(self, other):
        return isinstance(other, PublicRun) and other.path == self.path

    def __hash__(self):
        return hash(self.path)

    def __repr__(self):
        return f"<Run {self.path} ({self.name}, {self.state})>"


def parse_run_path(path, default_entity, default_project):
    parts = [p for p in str(path).replace(":", "/").split("/") if p]
    if parts[-2:-1] == ["runs"]:
        parts = parts[:-2] + parts[-1:]
    if not 1 <= len(parts) <= 3:
        raise AmphoraError("invalid_request", f'Invalid run path "{path}": write it as [entity/][project/]run_id.')
    run_id = parts[-1]
    project = parts[-2] if len(parts) >= 2 else default_project()
    entity = parts[-3] if len(parts) == 3 else default_entity()
    return entity, project, run_id
