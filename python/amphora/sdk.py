"""`init` and the module-level calls that act on the current run."""
import atexit
import sys
import threading

from .client import get_client
from .errors import AmphoraError
from .names import validate_entity, validate_job_type, validate_project
from .live_run import Config, Run, Summary, _as_dict, json_value

_lock = threading.RLock()
_current = None
_live = []


def current_run():
    return _current


def init(project=None, entity=None, job_type=None, config=None, group=None, name=None, reinit=None, id=None,
         notes=None, tags=None, dir=None, mode=None, **_ignored):
    """Starts a run and makes it the current one. `with amphora.init(...) as run:` finishes it (an
    exception marks it failed). Without `reinit=True`, calling init while a run is live returns that run."""
    global _current
    with _lock:
        if _current is not None and not _current.finished:
            if not reinit:
                return _current
            _current.finish()
        client = get_client()
        entity = validate_entity(client.default_entity(entity))
        project = validate_project(client.default_project(project))
        body = {}
        if job_type is not None:
            body["jobType"] = validate_job_type(job_type)
        if group is not None:
            body["group"] = str(group)
        if name is not None:
            body["name"] = str(name)
        if id is not None:
            body["id"] = str(id)
        if config is not None:
            body["config"] = {str(k): json_value(v) for k, v in _as_dict(config).items()}
        data = client.http.post(client.project_path(entity, project) + "/runs", body)
        run = Run(client, data)
        _current = run
        _live.append(run)
        _bind_module(run)
        return run


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
    return _require_run("use_artifact").use_artifact(artifact_or_name, type=type, aliases=aliases)


def log_artifact(artifact_or_path, name=None, type=None, aliases=None):
    return _require_run("log_artifact").log_artifact(artifact_or_path, name=name, type=type, aliases=aliases)


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
