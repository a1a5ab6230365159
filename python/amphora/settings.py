"""Where things live on disk and how the client finds the server (mirrors src/core/node/config.ts).

- Data dir (server):  $AMPHORA_DATA_DIR, else $XDG_DATA_HOME/amphora, else ~/.local/share/amphora
- Discovery file:     <data dir>/server.json  ({url, apiKey, pid, dataDir, version, startedAt})
- Cache dir (client): $AMPHORA_CACHE_DIR, else $XDG_CACHE_HOME/amphora, else ~/.cache/amphora
- Cached blob:        <cache dir>/blobs/sha256/<first two hex>/<64 hex> (large blobs, hard links,
                      and small blobs of older caches)
- Cache packs:        <cache dir>/packs/<32 hex>.pack: small blobs (≤ 1 MiB), many to a file (see
                      cache_packs.py)
- Cached manifest:    <cache dir>/manifests/<first two hex>/<64 hex> (see manifest_cache.py)
- Connection:         $AMPHORA_BASE_URL + $AMPHORA_API_KEY win over the discovery file.
"""
import os

from .received import require_blob_digest

DISCOVERY_FILE = "server.json"
DEFAULT_PROJECT = "uncategorized"
DEFAULT_PORT = 7411


def _env(env):
    return os.environ if env is None else env


def _home(env):
    return env.get("HOME") or os.path.expanduser("~")


def _xdg(env, variable, fallback):
    v = env.get(variable)
    return v if v and v.startswith("/") else os.path.join(_home(env), *fallback)


def default_data_dir(env=None):
    env = _env(env)
    return env.get("AMPHORA_DATA_DIR") or os.path.join(_xdg(env, "XDG_DATA_HOME", [".local", "share"]), "amphora")


def default_cache_dir(env=None):
    env = _env(env)
    return env.get("AMPHORA_CACHE_DIR") or os.path.join(_xdg(env, "XDG_CACHE_HOME", [".cache"]), "amphora")


def discovery_path(data_dir=None):
    return os.path.join(data_dir or default_data_dir(), DISCOVERY_FILE)


def cached_blob_path(cache_dir, sha256hex):
    """The one place a cache key becomes a path: anything but 64 lowercase hex is refused."""
    require_blob_digest(sha256hex, "a cache entry")
    return os.path.join(cache_dir, "blobs", "sha256", sha256hex[:2], sha256hex)
