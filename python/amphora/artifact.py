"""Artifact: a draft you fill with files and log from a run, or a committed version you read."""
import copy
import os
import shutil
import tempfile

from .errors import AmphoraError
from .manifest import artifact_digest, stored_blobs, validate_manifest
from .names import validate_alias, validate_artifact_name, validate_artifact_type
from .paths import check_path_collisions, validate_manifest_path
from .reference import format_reference, parse_reference
from .received import check_received_manifest, check_received_version
from .references import resolve_reference
from .transfer import Stats, parallel, sha256_file

_WINDOWS = os.name == "nt"


def unwrap_version(answer):
    """Routes answer either an ArtifactVersion or {version: ArtifactVersion, ...}."""
    if isinstance(answer, dict) and isinstance(answer.get("version"), dict):
        return answer["version"]
    return answer


class ArtifactEntry:
    """One file of an artifact (what `get_path(name)` returns)."""

    def __init__(self, artifact, path, entry):
        self._artifact = artifact
        self.path = path
        self.name = path
        self.digest = entry.get("digest")
        self.size = entry.get("size")
        self.extra = dict(entry.get("extra") or {})
        self._ref = entry.get("ref")
        self._local = entry.get("_local")

    def ref(self):
        """The external URI this entry tracks, or None for a file stored by Amphora."""
        return self._ref

    def ref_url(self):
        return self._ref

    def download(self, root=None):
        """Downloads just this file (default root: the artifact's download folder); returns its local path."""
        if self._artifact._version is None:
            if self._local:
                return self._local
            raise AmphoraError("invalid_request", 'Artifact path "%s" is a reference of an artifact that is not logged yet; '
                               "log the artifact first, or read %s directly." % (self.path, self._ref))
        root = root or self._artifact._default_root()
        self._artifact._transfer_files(root, [self.path])
        return os.path.join(os.path.abspath(root), *self.path.split("/"))

    def __repr__(self):
        return "ArtifactEntry(path=%r, digest=%r, size=%r%s)" % (self.path, self.digest, self.size, ", ref=%r" % self._ref if self._ref else "")


class _NewFile:
    """What `Artifact.new_file` yields: a file that joins the artifact when closed."""

    def __init__(self, artifact, name, local, mode, encoding):
        self._artifact, self._name, self._local = artifact, name, local
        self._file = open(local, mode, encoding=encoding)

    def __getattr__(self, item):
        return getattr(self._file, item)

    def write(self, data):
        return self._file.write(data)

    def close(self):
        if not self._file.closed:
            self._file.close()
            self._artifact._put_local(self._name, self._local)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self._file.close()
            return False
        self.close()
        return False


class Artifact:
    """`Artifact(name, type, description=None, metadata=None)`."""

    def __init__(self, name, type, description=None, metadata=None, incremental=False, use_as=None):
        self._name = validate_artifact_name(name)
        self._type = validate_artifact_type(type)
        self.description = description
        if metadata is not None and not isinstance(metadata, dict):
            raise AmphoraError("invalid_request", "Artifact metadata must be a dict of JSON values, got %s." % type_name(metadata))
        self._metadata = dict(metadata or {})
        self._entries = {}  # logical path -> {"digest", "size", "ref"?, "extra"?, "_local"?}
        self._tmpdir = None
        self._version = None  # the server's ArtifactVersion once logged
        self._client = None
        self._aliases = []
        self._saved = None  # (description, metadata, aliases) as last seen on the server
        self._manifest_loaded = True
        self.last_transfer = None
        self.pending = None  # what the server answered to the last upsert_artifact

    # ------------------------------------------------------------------ constructing from the server
    @classmethod
    def _from_version(cls, client, version):
        a = cls.__new__(cls)
        a._client = client
        a._entries = {}
        a._manifest_loaded = False
        a._tmpdir = None
        a.last_transfer = None
        a._apply_version(version)
        return a

    def _apply_version(self, version):
        check_received_version(version)
        self._version = version
        self._name = version["name"]
        self._type = version["type"]
        self.description = version.get("description")
        self._metadata = copy.deepcopy(version.get("metadata") or {})
        self._aliases = list(version.get("aliases") or [])
        self._saved = (self.description, copy.deepcopy(self._metadata), list(self._aliases))

    # ------------------------------------------------------------------ attributes
    @property
    def name(self):
        return self._name

    @property
    def type(self):
        return self._type

    @property
    def version(self):
        return self._version["version"] if self._version else None

    @property
    def id(self):
        return self._version["id"] if self._version else None

    @property
    def entity(self):
        return self._version["entity"] if self._version else None

    @property
    def project(self):
        return self._version["project"] if self._version else None

    @property
    def state(self):
        return self._version["state"] if self._version else "draft"

    @property
    def created_at(self):
        return self._version.get("createdAt") if self._version else None

    @property
    def file_count(self):
        return self._version["fileCount"] if self._version else len(self._entries)

    @property
    def qualified_name(self):
        """`entity/project/name:vN` once logged."""
        if not self._version:
            return self._name
        return format_reference(parse_reference("%s/%s/%s:%s" % (self.entity, self.project, self._name, self.version)))

    @property
    def digest(self):
        if self._version:
            return self._version["digest"]
        self._finalize_local()
        return artifact_digest(self._entries)

    @property
    def size(self):
        if self._version:
            return self._version["size"]
        self._finalize_local()
        return sum(e["size"] for e in self._entries.values())

    @property
    def metadata(self):
        return self._metadata

    @metadata.setter
    def metadata(self, value):
        if not isinstance(value, dict):
            raise AmphoraError("invalid_request", "Artifact metadata must be a dict of JSON values, got %s." % type_name(value))
        self._metadata = dict(value)

    @property
    def aliases(self):
        return self._aliases

    @aliases.setter
    def aliases(self, value):
        self._aliases = list(value)

    @property
    def manifest(self):
        """Logical path -> {"digest", "size", "ref"?, "extra"?} (a copy)."""
        self._load_manifest()
        return {p: _wire(e) for p, e in self._entries.items()}

    def __repr__(self):
        return "Artifact(%s, type=%r)" % (self.qualified_name if self._version else repr(self._name), self._type)

    # ------------------------------------------------------------------ adding content (drafts)
    def _require_draft(self, what):
        if self._version is not None:
            raise AmphoraError("invalid_request", "Cannot %s: %s is already logged and its files never change. Create a new "
                               "Artifact(%r, type=%r) to log new content." % (what, self.qualified_name, self._name, self._type))

    def _put(self, logical, entry):
        validate_manifest_path(logical)
        check_path_collisions(list(self._entries) + [logical] if logical not in self._entries else list(self._entries))
        self._entries[logical] = entry

    def _put_local(self, logical, local):
        self._put(logical, {"digest": None, "size": None, "_local": local})

    def add_file(self, local_path, name=None, is_tmp=False):
        """Adds one file, stored as `name` (default: its file name)."""
        self._require_draft("add a file")
        if not os.path.isfile(local_path):
            raise AmphoraError("invalid_path", 'add_file: "%s" is not a file. Pass the path of an existing file '
                               "(use add_dir for folders)." % local_path)
        logical = name if name is not None else os.path.basename(local_path)
        if os.sep != "/" and name is None:
            logical = logical.replace(os.sep, "/")
        self._put_local(logical, os.path.abspath(local_path))
        return ArtifactEntry(self, logical, self._entries[logical])

    def add_dir(self, local_path, name=None):
        """Adds every file under a folder, stored under the prefix `name` (default: at the top)."""
        self._require_draft("add a folder")
        if not os.path.isdir(local_path):
            raise AmphoraError("invalid_path", 'add_dir: "%s" is not a folder. Pass the path of an existing folder '
                               "(use add_file for single files)." % local_path)
        root = os.path.abspath(local_path)
        real_root = os.path.realpath(root)
        prefix = name.strip("/") + "/" if name else ""
        added = {}
        seen = set()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            real_dir = os.path.realpath(dirpath)
            if real_dir != real_root and not real_dir.startswith(real_root.rstrip(os.sep) + os.sep):
                raise AmphoraError("invalid_path", 'add_dir: folder "%s" is a symbolic link to "%s", outside "%s". Copy the '
                                   "files into the folder or add them with add_file." % (dirpath, real_dir, root))
            if real_dir in seen:  # a link back to a folder already walked: don't loop
                dirnames[:] = []
                continue
            seen.add(real_dir)
            dirnames.sort()
            for fn in sorted(filenames):
                full = os.path.join(dirpath, fn)
                real = os.path.realpath(full)
                if not real.startswith(real_root.rstrip(os.sep) + os.sep):
                    raise AmphoraError("invalid_path", 'add_dir: "%s" is a symbolic link to "%s", outside "%s". Copy the '
                                       "file into the folder or add it with add_file." % (full, real, root))
                if not os.path.isfile(full):
                    continue  # sockets, fifos, dangling links
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                added[prefix + rel] = full
        for logical in added:
            validate_manifest_path(logical)
        check_path_collisions([p for p in self._entries if p not in added] + list(added))
        for logical, full in added.items():
            self._entries[logical] = {"digest": None, "size": None, "_local": full}

    def new_file(self, name, mode="w", encoding=None):
        """A writable file stored as `name` when closed: `with artifact.new_file("x.txt") as f: ...`."""
        self._require_draft("add a file")
        validate_manifest_path(name)
        if mode not in ("w", "wb", "x", "xb", "w+", "wb+", "w+b"):
            raise AmphoraError("invalid_request", 'new_file: mode %r is not supported; use "w" (text) or "wb" (bytes).' % mode)
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="amphora-artifact-")
        local = os.path.join(self._tmpdir, *name.split("/"))
        os.makedirs(os.path.dirname(local), exist_ok=True)
        if "b" not in mode and encoding is None:
            encoding = "utf-8"
        return _NewFile(self, name, local, mode, encoding)

    def add(self, obj, name):
        """Adds a Table (or any object with a `to_json()`), stored as `name` + its suffix."""
        self._require_draft("add an object")
        if not hasattr(obj, "to_json"):
            raise AmphoraError("invalid_request", "Artifact.add expects an amphora.Table or another object with to_json(); "
                               "got %s. Use add_file or new_file for files." % type_name(obj))
        suffix = getattr(obj, "artifact_suffix", ".json")
        logical = name if name.endswith(suffix) else name + suffix
        with self.new_file(logical, mode="w") as f:
            f.write(obj.to_json())
        return ArtifactEntry(self, logical, self._entries[logical])

    def add_reference(self, uri, name=None, checksum=True, max_objects=None):
        """Tracks an external object without copying it: http(s):// (digest from ETag, size from
        Content-Length), file:// (digest of the content; a folder adds every file in it), s3:// and
        gs:// (a key, or a prefix ending in "/" that adds its objects, at most max_objects, default
        10,000; read with your own AWS / Google credentials through boto3 / google-cloud-storage);
        checksum=False records the URI itself as the digest. Returns the added entries."""
        self._require_draft("add a reference")
        found = resolve_reference(uri, name=name, checksum=checksum, max_objects=max_objects)
        if max_objects is not None and len(found) > max_objects:
            raise AmphoraError("invalid_request", 'add_reference: "%s" holds %d files, more than max_objects=%d.' % (uri, len(found), max_objects))
        check_path_collisions([p for p in self._entries if p not in dict(found)] + [p for p, _ in found])
        for p, e in found:
            self._entries[p] = e
        return [ArtifactEntry(self, p, e) for p, e in found]

    def remove(self, name):
        self._require_draft("remove a file")
        if name not in self._entries:
            raise AmphoraError("not_found", 'Artifact path "%s" is not in this artifact.' % name)
        del self._entries[name]

    # ------------------------------------------------------------------ reading
    def get_path(self, name):
        self._load_manifest()
        entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(sorted(self._entries)[:10])
            raise AmphoraError("not_found", 'Artifact %s has no file "%s"; its files are: %s.' % (self.qualified_name, name, known or "(none)"))
        return ArtifactEntry(self, name, entry)

    get_entry = get_path

    def files(self):
        self._load_manifest()
        return [ArtifactEntry(self, p, e) for p, e in sorted(self._entries.items())]

    def _load_manifest(self):
        if self._manifest_loaded:
            return
        c = self._client
        answer = c.http.get(c.version_path(self.entity, self.project, self._name, self.version) + "/manifest")
        entries = answer.get("entries") if isinstance(answer, dict) else None
        if isinstance(answer, dict) and answer.get("digest") != self._version["digest"]:
            check_received_manifest(entries, self.qualified_name, digest=answer.get("digest"))
        # The manifest must be the one this version's digest, file count and size describe.
        check_received_manifest(entries, self.qualified_name, digest=self._version["digest"],
                                file_count=self._version["fileCount"], size=self._version["size"])
        self._entries = {p: dict(e) for p, e in entries.items()}
        self._manifest_loaded = True

    def _default_root(self):
        sep = "-" if _WINDOWS else ":"
        return os.path.join(".", "artifacts", "%s%s%s" % (self._name, sep, self.version))

    def download(self, root=None):
        """Materializes every file under `root` (default ./artifacts/<name>:<version>), fetching only
        what is missing and verifying every hash. Returns the folder."""
        if self._version is None:
            raise AmphoraError("invalid_request", "Artifact %r is not logged yet, so there is nothing to download; "
                               "log it with run.log_artifact first, or read its local files directly." % self._name)
        root = root or self._default_root()
        self._transfer_files(root, None)
        return root

    def _transfer_files(self, root, paths):
        self._load_manifest()
        self.last_transfer = self._client.transfer.download(self._entries, root, paths, Stats())
        return self.last_transfer

    def checkout(self, root=None):
        return self.download(root)

    # ------------------------------------------------------------------ server-side changes
    def save(self):
        """Committed: persists description, metadata and alias changes. Draft: logs it."""
        if self._version is None:
            from . import sdk

            run = sdk.current_run()
            if run is not None:
                run.log_artifact(self)
            else:
                with sdk.init(job_type="auto", reinit=True) as run:
                    run.log_artifact(self)
            return self
        description, metadata, aliases = self._saved
        body = {}
        if self.description != description:
            body["description"] = self.description
        if self._metadata != metadata:
            body["metadata"] = self._metadata
        for alias in self._aliases:
            if alias != "latest":
                validate_alias(alias)
        add = [a for a in self._aliases if a not in aliases and a != "latest"]
        remove = [a for a in aliases if a not in self._aliases and a != "latest"]
        if add or remove:
            body["aliases"] = {"add": add, "remove": remove}
        if body:
            c = self._client
            answer = c.http.patch(c.version_path(self.entity, self.project, self._name, self.version), body)
            self._apply_version(unwrap_version(answer))
        return self

    def delete(self, delete_aliases=False):
        self._require_logged("delete")
        c = self._client
        query = {"deleteAliases": "true"} if delete_aliases else None
        answer = c.http.delete(c.version_path(self.entity, self.project, self._name, self.version), query=query)
        self._apply_version(unwrap_version(answer))

    def wait(self):
        return self

    # ------------------------------------------------------------------ lineage
    def _require_logged(self, what):
        if self._version is None:
            raise AmphoraError("invalid_request", "Cannot %s artifact %r: it is not logged yet. Log it with "
                               "run.log_artifact first." % (what, self._name))

    def logged_by(self):
        """The run that logged this version (None if it was logged outside a run)."""
        self._require_logged("ask who logged")
        producer = self._version.get("producerRun")
        if not producer:
            return None
        from .public import PublicRun

        return PublicRun._fetch(self._client, self.entity, self.project, producer["id"])

    def used_by(self):
        """The runs that used this version."""
        self._require_logged("ask who used")
        from .public import PublicRun

        c = self._client
        answer = c.http.get(c.version_path(self.entity, self.project, self._name, self.version) + "/consumers")
        return [PublicRun(c, r) for r in answer["items"]]

    # ------------------------------------------------------------------ logging (used by Run)
    def _finalize_local(self, stat_cache=None):
        """Hashes every local file not hashed yet (in parallel, streaming; unchanged files are
        answered from the stat cache when one is given)."""
        pending = [(p, e) for p, e in self._entries.items() if e.get("digest") is None]
        hash_one = stat_cache.digest if stat_cache is not None else sha256_file
        try:
            results = parallel(lambda pe: hash_one(pe[1]["_local"]), pending)
        finally:
            if stat_cache is not None:
                stat_cache.flush()
        for (p, e), (digest, size) in zip(pending, results):
            e["digest"], e["size"] = digest, size

    def _prepare_upload(self, client):
        if not self._entries:
            raise AmphoraError("invalid_request", "Artifact %r has no files; add some with add_file, add_dir, new_file "
                               "or add_reference before logging it." % self._name)
        self._finalize_local(client.transfer.stat_cache)
        manifest = {p: _wire(e) for p, e in self._entries.items()}
        validate_manifest(manifest)
        local_by_digest = {e["digest"]: e["_local"] for e in self._entries.values() if e.get("_local") and not e.get("ref")}
        blobs = [{"digest": b["digest"], "size": b["size"], "path": local_by_digest[b["digest"]]} for b in stored_blobs(manifest)]
        stats = client.transfer.upload(blobs, Stats())
        self.last_transfer = stats
        self._adopt = [(b["path"], b["digest"]) for b in blobs]
        return manifest

    def _committed(self, client, version, manifest=None):
        check_received_version(version)
        if manifest is not None and version["digest"] != artifact_digest(manifest):
            raise AmphoraError("internal", "The server answered the commit of %s with a version of digest %s, but the files "
                               "sent hash to %s; the server is broken or not trustworthy. Check %s:%s before using it."
                               % (self._name, version["digest"], artifact_digest(manifest), self._name, version["version"]))
        adopted = getattr(self, "_adopt", ())
        for local, digest in adopted:
            client.transfer.adopt(local, digest)
        # The cache's hard link moved those files' ctime: keep them known to the stat cache.
        client.transfer.stat_cache.refresh_linked([local for local, _ in adopted])
        client.transfer.stat_cache.flush()
        self._adopt = []
        self._client = client
        self._apply_version(version)
        self._manifest_loaded = True

    def __del__(self):
        tmp = getattr(self, "_tmpdir", None)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _wire(entry):
    return {k: v for k, v in entry.items() if not k.startswith("_") and v is not None}


def type_name(value):
    return type(value).__name__
