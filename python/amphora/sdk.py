"""`init` and the module-level calls that act on the current run."""
import atexit
import os
import re
import sys
import threading

from . import provenance
from .client import get_client
from .errors import AmphoraError
from .names import validate_entity, validate_job_type, validate_project
from .live_run import Config, Run, Summary, _as_dict, json_value, validate_run_tags
from .offline import DisabledRun, OfflineRun, new_run_id, offline_folder
from .settings import DEFAULT_PROJECT

_lock = threading.RLock()
_current = None
_live = []
_last_init = None  # (entity, project) of the last online init: Api() defaults to it, as wandb.Api() does


def last_init():
    return _last_init


def current_run():
    return _current


# W&B init arguments Amphora has no use for, and the values that mean "not asked for".
_INERT = {"anonymous": (None, "never", "allow"), "save_code": (None, False), "sync_tensorboard": (None, False),
          "tensorboard": (None, False), "monitor_gym": (None, False), "magic": (None, False),
          "settings": (None, {}), "resume_from": (None,), "fork_from": (None,), "force": (None, False, True),
          "fork": (None,), "job_type_override": (None,)}
_MODES = ("online", "offline", "disabled", "shared", None)


def init(project=None, entity=None, job_type=None, config=None, group=None, name=None, reinit=None, id=None,
         notes=None, tags=None, dir=None, mode=None, resume=None, allow_val_change=None, config_exclude_keys=None,
         config_include_keys=None, **kwargs):
    """Starts a run and makes it the current one. `with amphora.init(...) as run:` finishes it (an
    exception marks it failed). Without `reinit=True`, calling init while a run is live returns that run.
    `mode="offline"` records the run in `<dir>/amphora/offline-run-…` for `amphora sync`;
    `mode="disabled"` makes every call a no-op. W&B arguments Amphora cannot honour raise NotImplementedError."""
    global _current, _last_init
    _check_unsupported(kwargs, resume)
    mode = os.environ.get("AMPHORA_MODE") or os.environ.get("WANDB_MODE") if mode is None else mode
    if mode not in _MODES:
        raise AmphoraError("invalid_request", 'init: mode must be "online", "offline" or "disabled", got %r.' % (mode,))
    with _lock:
        if _current is not None and not _current.finished:
            if not reinit:
                return _current
            _current.finish()
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
            record = dict(body, id=run_id, entity=entity, project=project)
            run = OfflineRun(record, offline_folder(dir, run_id), allow_val_change=bool(allow_val_change))
            run._data.update(name=body.get("name") or "offline-" + run_id, jobType=body.get("jobType"), group=body.get("group"))
        else:
            client = get_client()
            entity = validate_entity(client.default_entity(entity))
            project = validate_project(client.default_project(project))
            if resume in ("never",) and id is not None and _run_exists(client, entity, project, body["id"]):
                raise AmphoraError("conflict", 'init(resume="never"): run %s/%s/%s already exists; pick another id or '
                                   "resume it with resume=\"allow\"." % (entity, project, body["id"]))
            if resume == "must" and (id is None or not _run_exists(client, entity, project, body["id"])):
                raise AmphoraError("not_found", 'init(resume="must") needs the id of an existing run in %s/%s; got %r.'
                                   % (entity, project, id))
            prov, diff = provenance.for_init()
            if prov is not None:
                body["provenance"] = prov
            data = client.http.post(client.project_path(entity, project) + "/runs", body)
            run = Run(client, data, allow_val_change=bool(allow_val_change), media_dir=dir)
            if diff:
                provenance.save_diff(run, diff)
            _last_init = (entity, project)
        _current = run
        _live.append(run)
        _bind_module(run)
        return run


def _check_unsupported(kwargs, resume):
    for key, value in kwargs.items():
        if key not in _INERT:
            raise TypeError("init() got an unexpected keyword argument %r (not a W&B init argument either)." % key)
        if value not in _INERT[key]:
            raise NotImplementedError("init(%s=%r) is not supported by Amphora; leave it out." % (key, value))
    if resume not in (None, False, True, "allow", "must", "never", "auto"):
        raise AmphoraError("invalid_request", 'init: resume must be "allow", "must", "never", "auto", True or False, got %r.' % (resume,))


def _run_exists(client, entity, project, run_id):
    try:
        client.http.get(client.run_path(entity, project, run_id))
        return True
    except AmphoraError as e:
        if e.code == "not_found":
            return False
        raise


def validate_run_id(run_id):
    if not re.match(r"^[A-Za-z0-9_-]{1,64}$", run_id):
        raise AmphoraError("invalid_request", 'Run id "%s" is not valid: use 1\u201364 letters, digits, "-" or "_".' % run_id[:80])
    return run_id


def _bind_module(run):
    """`amphora.config` / `amphora.summary` follow the current run, as the tutorial expects."""
    module = sys.modules.get(__package__)
    if module is not None:
        module.config = run.config if run is not None else Config()
        module.summary = run.summary if run is not None else Summary()
        module.run = run


def _forget(run):
    global _current
    with _lock:
        if run in _live:
            _live.remove(run)
        if _current is run:
            _current = None
            module = sys.modules.get(__package__)
            if module is not None and getattr(module, "run", None) is run:
                module.run = None  # like wandb.run after finish()


def _require_run(what):
    run = _current
    if run is None:
        raise AmphoraError("invalid_request", "amphora.%s needs a run: call amphora.init(project=..., job_type=...) first." % what)
    return run


def log(data, step=None, commit=None):
    return _require_run("log").log(data, step=step, commit=commit)


def save(glob_str, base_path=None, policy="live"):
    return _require_run("save").save(glob_str, base_path=base_path, policy=policy)


def finish(exit_code=None, quiet=None):
    run = _current
    if run is not None:
        run.finish(exit_code=exit_code)


def use_artifact(artifact_or_name, type=None, aliases=None, use_as=None):
    return _require_run("use_artifact").use_artifact(artifact_or_name, type=type, aliases=aliases, use_as=use_as)


def log_artifact(artifact_or_path, name=None, type=None, aliases=None, tags=None):
    return _require_run("log_artifact").log_artifact(artifact_or_path, name=name, type=type, aliases=aliases, tags=tags)


_previous_hook = sys.excepthook


def _excepthook(exc_type, exc, tb):
    # An uncaught exception fails the runs that are still live (like leaving a `with` block by an error).
    for run in list(_live):
        try:
            run.finish(exit_code=1)
        except Exception:
            pass
    _previous_hook(exc_type, exc, tb)


@atexit.register
def _finish_at_exit():
    for run in list(_live):
        try:
            run.finish()
        except Exception as e:  # the process is ending; say why the run could not be closed
            sys.stderr.write("amphora: could not finish run %s: %s\n" % (run.path, e))


sys.excepthook = _excepthook
