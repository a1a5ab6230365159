"""Which runs are live in this process, and the last online init's (entity, project).

Kept apart from `sdk` (which starts runs) so that runs, artifacts and Api can ask for the current
run without importing the module that imports them.
"""
import sys
import threading

lock = threading.RLock()  # held while init replaces the current run
_current = None
_live = []
_last_init = None  # (entity, project) of the last online init: Api() defaults to it, as wandb.Api() does
_start_run = None  # sdk.init, registered when sdk is imported (artifact.save() of a draft outside a run)


def last_init():
    return _last_init


def current_run():
    return _current


def live_runs():
    return list(_live)


def register_run_starter(init):
    global _start_run
    _start_run = init


def start_run(**kwargs):
    """W&B's behaviour for saving a draft outside a run: a run of its own logs it."""
    return _start_run(**kwargs)


def make_current(run, entity_project=None):
    global _current, _last_init
    with lock:
        _current = run
        _live.append(run)
        if entity_project is not None:
            _last_init = entity_project
        _bind_module(run)


def forget(run):
    global _current
    with lock:
        if run in _live:
            _live.remove(run)
        if _current is run:
            _current = None
            module = sys.modules.get(__package__)
            if module is not None and getattr(module, "run", None) is run:
                module.run = None  # like wandb.run after finish()


def _bind_module(run):
    """`amphora.config` / `amphora.summary` follow the current run, as the tutorial expects."""
    module = sys.modules.get(__package__)
    if module is not None:
        module.config = run.config
        module.summary = run.summary
        module.run = run
