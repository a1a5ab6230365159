"""Which server to talk to (mirrors src/client/connection.ts): $AMPHORA_BASE_URL + $AMPHORA_API_KEY
win; otherwise the discovery file the local server writes into the default data dir. The result is
checked with a health request so a stale discovery file gives a clear "start a server" error."""
import json
import os

from .errors import AmphoraError, CommError
from .settings import DEFAULT_PORT, default_data_dir, discovery_path
from .transport import API_PREFIX, START_HINT, Http, unreachable


def resolve_connection(base_url=None, api_key=None, env=None, verify=True):
    """Returns (base_url, api_key). Raises `server_unreachable` when no server can be found."""
    env = os.environ if env is None else env
    base_url = base_url or env.get("AMPHORA_BASE_URL")
    api_key = api_key or env.get("AMPHORA_API_KEY")
    if base_url:
        _require_scheme(base_url)
    if not base_url or not api_key:
        path = discovery_path(default_data_dir(env))
        found = _read_discovery(path)
        if not found:
            if base_url and not api_key:
                raise CommError("unauthorized", f"AMPHORA_BASE_URL is set to {base_url} but AMPHORA_API_KEY is not; set "
                                   "AMPHORA_API_KEY to the server's API key.")
            raise CommError(
                "server_unreachable",
                f"No Amphora server found: AMPHORA_BASE_URL is not set and there is no discovery file at {path}. {START_HINT}, or set "
                "AMPHORA_BASE_URL and AMPHORA_API_KEY.",
            )
        # The discovery file's key only belongs to the discovery file's server.
        if not base_url or base_url.rstrip("/") == found["url"].rstrip("/"):
            base_url = found["url"]
            api_key = api_key or found["apiKey"]
        if not api_key:
            raise CommError("unauthorized", f"AMPHORA_BASE_URL is set to {base_url} but AMPHORA_API_KEY is not; set "
                               "AMPHORA_API_KEY to that server's API key.")
    base_url = base_url.rstrip("/")
    if verify:
        _check_health(base_url)
    return base_url, api_key


def _require_scheme(base_url):
    if base_url.lower().startswith(("http://", "https://")):
        return
    host = base_url.split("/")[0]
    example = "http://" + (host if ":" in host else f'{host or "127.0.0.1"}:{DEFAULT_PORT}')
    raise AmphoraError("invalid_request", f'AMPHORA_BASE_URL is "{base_url}": it must start with http:// or https:// (for example '
                       f"{example}).")


def _read_discovery(path):
    try:
        with open(path, "r", encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str) or not isinstance(data.get("apiKey"), str):
        return None
    return data


def _check_health(base_url):
    probe = Http(base_url, "", timeout=5.0)
    try:
        resp = probe.open("GET", API_PREFIX + "/health")
        resp.read()
        if resp.status != 200:
            raise unreachable(base_url, f"health check answered HTTP {resp.status}")
    finally:
        probe.close()
