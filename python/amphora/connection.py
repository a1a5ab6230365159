"""Which server to talk to: $AMPHORA_BASE_URL + $AMPHORA_API_KEY, else the discovery file the
local server publishes in its data dir (see settings.py)."""
import json
import os

from .errors import AmphoraError
from .settings import default_data_dir, discovery_path
from .transport import API_PREFIX, Http, unreachable

_HOW_TO_START = (
    "Start one with `amphora serve` (or `npm start` in the Amphora repository), "
    "or set AMPHORA_BASE_URL and AMPHORA_API_KEY to reach a team server."
)


def resolve_connection(base_url=None, api_key=None, env=None):
    """Returns (base_url, api_key). Raises `server_unreachable` when no server can be found."""
    env = os.environ if env is None else env
    base_url = base_url or env.get("AMPHORA_BASE_URL")
    api_key = api_key or env.get("AMPHORA_API_KEY")
    if base_url:
        if not api_key:
            found = _read_discovery(env)
            if found and found.get("url", "").rstrip("/") == base_url.rstrip("/"):
                api_key = found.get("apiKey")
        return base_url.rstrip("/"), api_key or ""
    found = _read_discovery(env)
    if not found:
        raise AmphoraError(
            "server_unreachable",
            "No Amphora server found: AMPHORA_BASE_URL is not set and there is no discovery file at %s. %s"
            % (discovery_path(default_data_dir(env)), _HOW_TO_START),
        )
    url = str(found.get("url", "")).rstrip("/")
    probe = Http(url, "", timeout=5.0)
    try:
        resp = probe.open("GET", API_PREFIX + "/health")
        resp.read()
        if resp.status != 200:
            raise unreachable(url, "health check answered HTTP %d" % resp.status)
    except AmphoraError as e:
        raise AmphoraError(
            "server_unreachable",
            "The Amphora server recorded in %s (%s) does not answer; it has probably stopped. %s"
            % (discovery_path(default_data_dir(env)), url, _HOW_TO_START),
        ) from e
    finally:
        probe.close()
    return url, api_key or found.get("apiKey", "")


def _read_discovery(env):
    path = discovery_path(default_data_dir(env))
    try:
        with open(path, "r", encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) and data.get("url") else None
    except (OSError, ValueError):
        return None
