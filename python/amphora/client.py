"""The connection shared by runs, artifacts and Api: HTTP, transfers, and who we are."""
import os
import threading

from .artifact import Artifact
from .connection import resolve_connection
from .settings import DEFAULT_PROJECT, default_cache_dir
from .transfer import Transfer
from .transport import API_PREFIX, Http, enc

_ENV_KEYS = ("AMPHORA_BASE_URL", "AMPHORA_API_KEY", "AMPHORA_DATA_DIR", "AMPHORA_CACHE_DIR", "XDG_DATA_HOME",
             "XDG_CACHE_HOME", "HOME")
_lock = threading.Lock()
_clients = {}


class Client:
    def __init__(self, base_url=None, api_key=None, cache_dir=None):
        self.base_url, self.api_key = resolve_connection(base_url, api_key)
        self.cache_dir = cache_dir or default_cache_dir()
        self.http = Http(self.base_url, self.api_key)
        self.transfer = Transfer(self.http, self.cache_dir)
        self._viewer = None

    def viewer(self):
        if self._viewer is None:
            self._viewer = self.http.get(API_PREFIX + "/viewer")
        return self._viewer

    def artifact_from_version(self, version):
        """An Artifact for a version the server sent (runs' lineage lists build theirs here, so the
        run view needs no import of the artifact module, which imports it)."""
        return Artifact._from_version(self, version)

    def default_entity(self, entity=None):
        return entity or os.environ.get("AMPHORA_ENTITY") or self.viewer()["entity"]

    def default_project(self, project=None):
        return project or os.environ.get("AMPHORA_PROJECT") or self.viewer().get("defaultProject") or DEFAULT_PROJECT

    # routes (same shapes as `routes` in src/core/api.ts)
    @staticmethod
    def project_path(e, p):
        return f"{API_PREFIX}/projects/{enc(e)}/{enc(p)}"

    def collection_path(self, e, p, n):
        return f"{self.project_path(e, p)}/artifacts/{enc(n)}"

    def version_path(self, e, p, n, sel):
        return f"{self.collection_path(e, p, n)}/versions/{enc(sel)}"

    def run_path(self, e, p, run_id):
        return f"{self.project_path(e, p)}/runs/{enc(run_id)}"


def get_client():
    """One Client per configuration (environment variables are read at call time)."""
    key = tuple(os.environ.get(k) for k in _ENV_KEYS)
    with _lock:
        c = _clients.get(key)
        if c is None:
            c = _clients[key] = Client()
        return c
