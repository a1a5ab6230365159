"""`init` and the module-level calls that act on the current run."""
from __future__ import annotations

import atexit
import os
import re
import sys
from typing import Any, Sequence

from . import provenance
from .artifact import Artifact
from .client import get_client
from .metric_summary import MetricDefinition
from .errors import AmphoraError, found
from .names import validate_entity, validate_job_type, validate_project, validate_run_tags
from .live_run import Run, _as_dict, json_value
from .offline import DisabledRun, OfflineRun, new_run_id, offline_folder
from .settings import DEFAULT_PROJECT
from . import session

last_init = session.last_init
current_run = session.current_run


# W&B init arguments Amphora has no use for, and the values that mean "not asked for".
_INERT = {"anonymous": (None, "never", "allow"), "save_code": (None, False), "sync_tensorboard": (None, False),
          "tensorboard": (None, False), "monitor_gym": (None, False), "magic": (None, False),
          "settings": (None, {}), "resume_from": (None,), "fork_from": (None,), "force": (None, False, True),
          "fork": (None,), "job_type_override": (None,)}
_MODES = ("online", "offline", "disabled", "shared", None)


def init(project: str | None = None, entity: str | None = None, job_type: str | None = None, config: Any = None,
         group: str | None = None, name: str | None = None, reinit: bool | None = None, id: str | None = None,
         notes: str | None = None, tags: Sequence[str] | None = None, dir: str | None = None, mode: str | None = None,
         resume: bool | str | None = None, allow_val_change: bool | None = None,
         config_exclude_keys: Sequence[str] | None = None, config_include_keys: Sequence[str] | None = None,
         **kwargs: Any) -> Run:
    """Starts a run and makes it the current one. `with amphora.init(...) as run:` finishes it (an
    exception marks it failed). Without `reinit=True`, calling init while a run is live returns that run.
    `mode="offline"` records the run in `<dir>/amphora/offline-run-…` for `amphora sync`;
    `mode="disabled"` makes every call a no-op. W&B arguments Amphora cannot honour raise NotImplementedError."""
    _check_unsupported(kwargs, resume)
    mode = os.environ.get("AMPHORA_MODE") or os.environ.get("WANDB_MODE") if mode is None else mode
    if mode not in _MODES:
        raise AmphoraError("invalid_request", f'init: mode must be "online", "offline" or "disabled", got {mode!r}.')
    entity_project = None
    with session.lock:
        current = session.current_run()
        if current is not None and not current.finished:
            if not reinit:
                return current
            current.finish()
        cfg = {str(k): json_value(v) for k, v in _as_dict(config).items()} if config is not None else {}
        if config_include_keys:
            cfg = {k: v for k, v in cfg.items() if k in set(config_include_keys)}
        if config_exclude_keys:
            cfg = {k: v for k, v in cfg.items() if k not in set(config_exclude_keys)}
        body = {"config": cfg} if config is not None else {}
        if job_type is not None:
            body["jobType"] = validate_job_type(job_type)
        if group is not None:
            body["group"] = str(group)
        if name is not None:
            body["name"] = str(name)
        if id is not None:
            body["id"] = validate_run_id(str(id))
        if tags is not None:
            body["tags"] = validate_run_tags(tags)
        if notes is not None:
            body["notes"] = str(notes)
        if mode == "disabled":
            run_id = body.get("id") or new_run_id()
            run = DisabledRun(dict(body, id=run_id, name=body.get("name") or "disabled-" + run_id, entity=entity or "disabled",
                                   project=project or "disabled", jobType=body.get("jobType"), group=body.get("group")))
        elif mode == "offline":
            run_id = body.get("id") or new_run_id()
            project = validate_project(project or os.environ.get("AMPHORA_PROJECT") or DEFAULT_PROJECT)
            entity = validate_entity(entity) if entity else os.environ.get("AMPHORA_ENTITY")
            prov, diff = provenance.for_init()  # recorded now: by sync time the tree may have moved on
            if prov is not None:
                body["provenance"] = prov
            record = dict(body, id=run_id, entity=entity, project=project)
            run = OfflineRun(record, offline_folder(dir, run_id), allow_val_change=bool(allow_val_change))
            run._data.update(name=body.get("name") or "offline-" + run_id, jobType=body.get("jobType"), group=body.get("group"))
            if diff:
                provenance.save_diff(run, diff)
        else:
            client = get_client()
            entity = validate_entity(client.default_entity(entity))
            project = validate_project(client.default_project(project))
            if resume in ("never",) and id is not None and _run_exists(client, entity, project, body["id"]):
                raise AmphoraError("conflict", f'init(resume="never"): run {entity}/{project}/{body["id"]} already exists; pick another id or '
                                   "resume it with resume=\"allow\".")
            if resume == "must" and (id is None or not _run_exists(client, entity, project, body["id"])):
                raise AmphoraError("not_found", f'init(resume="must") needs the id of an existing run in {entity}/{project}; got {id!r}.')
            prov, diff = provenance.for_init()
            if prov is not None:
                body["provenance"] = prov
            data = client.http.post(client.project_path(entity, project) + "/runs", body)
            run = Run(client, data, allow_val_change=bool(allow_val_change), media_dir=dir)
            if diff:
                provenance.save_diff(run, diff)
            entity_project = (entity, project)
        session.make_current(run, entity_project)
        return run


def _check_unsupported(kwargs, resume):
    for key, value in kwargs.items():
        if key not in _INERT:
            raise TypeError(f"init() got an unexpected keyword argument {key!r} (not a W&B init argument either).")
        if value not in _INERT[key]:
            raise NotImplementedError(f"init({key}={value!r}) is not supported by Amphora; leave it out.")
    if resume not in (None, False, True, "allow", "must", "never", "auto"):
        raise AmphoraError("invalid_request", f'init: resume must be "allow", "must", "never", "auto", True or False, got {resume!r}.')


def _run_exists(client, entity, project, run_id):
    return found(lambda: client.http.get(client.run_path(entity, project, run_id)))


def validate_run_id(run_id):
    if not re.match(r"^[A-Za-z0-9_-]{1,64}$", run_id):
        raise AmphoraError("invalid_request", f'Run id "{run_id[:80]}" is not valid: use 1\u201364 letters, digits, "-" or "_".')
    return run_id


def _require_run(what):
    run = session.current_run()
    if run is None:
        raise AmphoraError("invalid_request", f"amphora.{what} needs a run: call amphora.init(project=..., job_type=...) first.")
    return run


def log(data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    return _require_run("log").log(data, step=step, commit=commit)


def save(glob_str: str, base_path: str | None = None, policy: str = "live") -> list[str]:
    return _require_run("save").save(glob_str, base_path=base_path, policy=policy)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    run = session.current_run()
    if run is not None:
        run.finish(exit_code=exit_code)


def use_artifact(artifact_or_name: str | Artifact, type: str | None = None, aliases: Sequence[str] | None = None,
                 use_as: str | None = None) -> Artifact:
    return _require_run("use_artifact").use_artifact(artifact_or_name, type=type, aliases=aliases, use_as=use_as)


def log_artifact(artifact_or_path: Artifact | str | os.PathLike, name: str | None = None, type: str | None = None,
                 aliases: Sequence[str] | None = None, tags: Sequence[str] | None = None) -> Artifact:
    return _require_run("log_artifact").log_artifact(artifact_or_path, name=name, type=type, aliases=aliases, tags=tags)


def define_metric(name: str, step_metric: str | None = None, step_sync: bool | None = None, hidden: bool | None = None,
                  summary: str | None = None, goal: str | None = None, overwrite: bool | None = None) -> MetricDefinition:
    return _require_run("define_metric").define_metric(name, step_metric=step_metric, step_sync=step_sync, hidden=hidden,
                                                       summary=summary, goal=goal, overwrite=overwrite)


def link_artifact(artifact: Artifact, target_path: str, aliases: Sequence[str] | None = None) -> Artifact:
    return _require_run("link_artifact").link_artifact(artifact, target_path, aliases=aliases)


def log_model(path: str | os.PathLike, name: str | None = None, aliases: Sequence[str] | None = None) -> Artifact:
    return _require_run("log_model").log_model(path, name=name, aliases=aliases)


def use_model(name: str) -> str:
    return _require_run("use_model").use_model(name)


def link_model(path: str | os.PathLike, registered_model_name: str, name: str | None = None,
               aliases: Sequence[str] | None = None) -> Artifact:
    return _require_run("link_model").link_model(path, registered_model_name, name=name, aliases=aliases)


def _install_excepthook():
    """An uncaught exception fails the runs that are still live (like leaving a `with` block by an
    error), then goes on to whatever hook was installed before (IPython's, a debugger's, the default)."""
    previous = sys.excepthook
    if getattr(previous, "_amphora_fails_live_runs", False):
        return  # already chained (the module was reloaded)

    def fail_live_runs_then_chain(exc_type, exc, tb):
        for run in session.live_runs():
            try:
                run.finish(exit_code=1)
            except Exception:
                pass
        previous(exc_type, exc, tb)

    fail_live_runs_then_chain._amphora_fails_live_runs = True
    sys.excepthook = fail_live_runs_then_chain


@atexit.register
def _finish_at_exit():
    for run in session.live_runs():
        try:
            run.finish()
        except Exception as e:  # the process is ending; say why the run could not be closed
            sys.stderr.write(f"amphora: could not finish run {run.path}: {e}\n")


_install_excepthook()
session.register_run_starter(init)
