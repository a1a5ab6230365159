"""What s3:// and gs:// references share (mirrors src/client/references/cloud.ts): parsing
`scheme://bucket/key`, naming the entries of an object or a prefix, and the max_objects cap."""
import posixpath
import re

from .errors import AmphoraError
from .paths import validate_manifest_path

# W&B's default: a prefix that expands to more objects than this needs an explicit max_objects.
DEFAULT_MAX_OBJECTS = 10000

_URI = re.compile(r"(s3|gs)://([^/?#]+)(?:/(.*))?\Z", re.S)


def parse_cloud_uri(uri):
    """`s3://bucket/key` -> (scheme, bucket, key); keys are taken verbatim, as the aws and gcloud CLIs do."""
    m = _URI.match(uri)
    if not m:
        raise AmphoraError("invalid_reference", f'"{uri}" is not a bucket URI; write it as s3://BUCKET/KEY, s3://BUCKET/PREFIX/, '
                           "gs://BUCKET/KEY or gs://BUCKET/PREFIX/.")
    return m.group(1), m.group(2), m.group(3) or ""


def cloud_uri(scheme, bucket, key):
    return f"{scheme}://{bucket}/{key}"


def max_objects_of(max_objects):
    value = DEFAULT_MAX_OBJECTS if max_objects is None else max_objects
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AmphoraError("invalid_request", f"max_objects must be a whole number >= 1, got {max_objects!r}.")
    return value


def resolve_bucket_uri(uri, name, list_prefix, one_object, key_word):
    """Manifest entries [(path, entry)] for a bucket URI: every object under `PREFIX/`; else the one
    object `KEY` (`one_object(bucket, key, path)`: its (path, entry), or None when there is none);
    else, as the cloud CLIs do, every object under `KEY/` (a name without its trailing slash may
    name a folder). `list_prefix(bucket, prefix)` lists; `key_word` is what the store calls a key."""
    _, bucket, key = parse_cloud_uri(uri)
    if key == "" or key.endswith("/"):
        found = list_prefix(bucket, key)
        if not found:
            raise AmphoraError("not_found", f"No objects under {uri}; check the bucket and prefix.")
        return found
    one = one_object(bucket, key, object_path(key, name))
    if one is not None:
        return [one]
    found = list_prefix(bucket, key + "/")
    if not found:
        raise AmphoraError("not_found", f"{uri} does not exist: no object has that {key_word} and none is under {key}/; check the {key_word}.")
    return found


def too_many_objects(uri, max_objects):
    return AmphoraError("invalid_request", f"{uri} holds more than max_objects={max_objects} objects; pass a larger max_objects to track them "
                        "all, or reference a narrower prefix.")


def object_path(key, name):
    """Logical path of one object: `name`, else the key's last segment."""
    segs = [s for s in key.split("/") if s]
    return validate_manifest_path(name if name is not None else (segs[-1] if segs else ""))


def prefixed_path(prefix, key, name):
    """Logical path of an object found under `prefix`: its key relative to the prefix, under `name/`."""
    rel = key[len(prefix):]
    return validate_manifest_path(posixpath.join(name, rel) if name else rel)


def is_folder_marker(key):
    """Folder markers (`photos/`, size 0) that consoles create are not files."""
    return key.endswith("/")


def strip_etag(etag):
    if etag.startswith("W/"):
        etag = etag[2:]
    m = re.fullmatch(r'"(.*)"', etag, re.S)
    return m.group(1) if m else etag


def missing_package(package, scheme, install):
    return AmphoraError("unsupported", f"{scheme}:// references need the {package} package, which is not installed; install it with "
                        f"`{install}`.")
