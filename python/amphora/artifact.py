"""Artifact: a draft you fill with files and log from a run, or a committed version you read."""
from __future__ import annotations

import copy
import datetime
import json
import os
import shutil
import tempfile
from typing import IO, Any, Sequence

from . import manifest_cache
from .data_types import Table, ToJson
from .errors import AmphoraError, ArtifactNotLoggedError, EntryNotFoundError, PathNotInArtifactError
from .manifest import artifact_digest, stored_blobs, validate_manifest
from .names import validate_alias, validate_artifact_name, validate_artifact_type
from .paths import check_path_collisions, validate_manifest_path
from .reference import format_reference, parse_reference
from .public import PublicRun
from .registries import link_target
from .received import check_received_manifest, check_received_version
from .references import resolve_reference
from .hashing import parallel, sha256_file
from .transfer import Stats, StreamingUpload

_WINDOWS = os.name == "nt"
_POLICIES = ("mutable", "immutable")
# Files up to this size are hashed in the calling thread when logging (see _finalize_local).
_SMALL_FILE = 1 << 20
# At most this many bytes of small files are kept in memory between hashing and their upload (the
# rest is read again from the files), as in the TypeScript SDK.
_HELD_MAX = 128 << 20
# W&B's Artifact.state values.
STATE_BY_SERVER = {"pending": "PENDING", "committed": "COMMITTED", "deleted": "DELETED"}


def unwrap_version(answer):
    """Routes answer either an ArtifactVersion or {version: ArtifactVersion, ...}."""
    if isinstance(answer, dict) and isinstance(answer.get("version"), dict):
        return answer["version"]
    return answer


class ArtifactEntry:
    """One file of an artifact (what `get_path(name)` returns)."""

    def __init__(self, artifact: Artifact, path: str, entry: dict[str, Any]) -> None:
        self._artifact = artifact
        self.path = path
        self.name = path
        self.digest = entry.get("digest")
        self.size = entry.get("size")
        self.extra = dict(entry.get("extra") or {})
        self._ref = entry.get("ref")
        self._local = entry.get("_local")

    def ref(self) -> str | None:
        """The external URI this entry tracks, or None for a file stored by Amphora."""
        return self._ref

    def ref_url(self) -> str | None:
        return self._ref

    def download(self, root: str | os.PathLike | None = None, skip_cache: bool | None = None) -> str:
        """Downloads just this file (default root: the artifact's download folder); returns its local
        path. `skip_cache=True` adds nothing to the local cache (see Artifact.download)."""
        if self._artifact._version is None:
            if self._local:
                return self._local
            raise AmphoraError("invalid_request", f'Artifact path "{self.path}" is a reference of an artifact that is not logged yet; '
                               f"log the artifact first, or read {self._ref} directly.")
        root = root or self._artifact._default_root()
        self._artifact._transfer_files(root, [self.path], skip_cache=skip_cache)
        return os.path.join(os.path.abspath(root), *self.path.split("/"))

    def __repr__(self):
        return f'ArtifactEntry(path={self.path!r}, digest={self.digest!r}, size={self.size!r}{f", ref={self._ref!r}" if self._ref else ""})'


class _NewFile:
    """What `Artifact.new_file` yields: a file that joins the artifact when closed."""

    def __init__(self, artifact, name, local, mode, encoding, overwrite):
        self._artifact, self._name, self._local, self._overwrite = artifact, name, local, overwrite
        self._file = open(local, mode, encoding=encoding)

    def __getattr__(self, item):
        return getattr(self._file, item)

    def write(self, data):
        return self._file.write(data)

    def close(self):
        if not self._file.closed:
            self._file.close()
            self._artifact._put_local(self._name, self._local, overwrite=self._overwrite)

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

    def __init__(self, name: str, type: str, description: str | None = None, metadata: dict[str, Any] | None = None,
                 incremental: bool = False, use_as: str | None = None) -> None:
        if use_as is not None:
            raise NotImplementedError("Artifact(use_as=...) is not supported by Amphora (W&B deprecated it); "
                                      "leave it out and refer to the artifact by its name.")
        self._name = validate_artifact_name(name)
        self._type = validate_artifact_type(type)
        self.description = description
        if metadata is not None and not isinstance(metadata, dict):
            raise AmphoraError("invalid_request", f"Artifact metadata must be a dict of JSON values, got {type_name(metadata)}.")
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
        self._incremental = bool(incremental)
        self._tags = []
        self._ttl = None
        self._skip_cache = set()  # logical paths added with skip_cache=True
        self._immutable = set()  # logical paths added with policy="immutable"

    # ------------------------------------------------------------------ constructing from the server
    @classmethod
    def _from_version(cls, client, version):
        a = cls.__new__(cls)
        a._client = client
        a._entries = {}
        a._manifest_loaded = False
        a._tmpdir = None
        a.last_transfer = None
        a.pending = None
        a._incremental = False
        a._skip_cache = set()
        a._immutable = set()
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
        self._tags = list(version.get("tags") or [])
        ttl = version.get("ttlSeconds")
        self._ttl = datetime.timedelta(seconds=ttl) if ttl else None
        self._saved = (self.description, copy.deepcopy(self._metadata), list(self._aliases), list(self._tags), self._ttl)

    # ------------------------------------------------------------------ attributes
    @property
    def name(self) -> str:
        """W&B's name: `collection:vN` once logged (a link: its registry collection and number), the
        collection name alone for a draft."""
        return f"{self._name}:{self.version}" if self._version else self._name

    @property
    def collection_name(self) -> str:
        """The collection alone (`mnist-raw`), logged or not."""
        return self._name

    @property
    def type(self) -> str:
        return self._type

    @property
    def version(self) -> str | None:
        return self._version["version"] if self._version else None

    @property
    def id(self) -> str | None:
        return self._version["id"] if self._version else None

    @property
    def entity(self) -> str | None:
        return self._version["entity"] if self._version else None

    @property
    def project(self) -> str | None:
        return self._version["project"] if self._version else None

    @property
    def state(self) -> str:
        """W&B's states: "PENDING" (a draft, or not committed yet), "COMMITTED", "DELETED"."""
        return STATE_BY_SERVER.get(self._version["state"], "PENDING") if self._version else "PENDING"

    def is_draft(self) -> bool:
        """True until the artifact is logged."""
        return self._version is None

    @property
    def created_at(self) -> str | None:
        """ISO-8601 time the version was created (None for a draft)."""
        return self._version.get("createdAt") if self._version else None

    @property
    def updated_at(self) -> str | None:
        """ISO-8601 time of the last change to the version (None for a draft)."""
        return self._version.get("updatedAt") if self._version else None

    def _source(self):
        """(entity, project, collection, vN) where the version was logged (a link's source)."""
        linked = self._version.get("linkedFrom")
        if linked:
            return linked["entity"], linked["project"], linked["name"], linked["version"]
        return self.entity, self.project, self._name, self.version

    @property
    def is_link(self) -> bool:
        """True for a version reached through a registry collection (W&B's linked artifact)."""
        return bool(self._version and self._version.get("linkedFrom"))

    @property
    def source_name(self) -> str:
        """`name:vN` where the version was logged (a link's source; the name alone for a draft)."""
        if not self._version:
            return self._name
        _, _, name, version = self._source()
        return f"{name}:{version}"

    @property
    def source_entity(self) -> str | None:
        return self._source()[0] if self._version else None

    @property
    def source_project(self) -> str | None:
        return self._source()[1] if self._version else None

    @property
    def source_version(self) -> str | None:
        return self._source()[3] if self._version else None

    @property
    def source_qualified_name(self) -> str:
        if not self._version:
            return self._name
        entity, project, name, version = self._source()
        return f"{entity}/{project}/{name}:{version}"

    @property
    def source_artifact(self) -> Artifact:
        """The logged version a link points at (itself when it is no link)."""
        self._require_logged("find the source of")
        if not self.is_link:
            return self
        c = self._client
        return Artifact._from_version(c, c.http.get(c.version_path(*self._source())))

    @property
    def tags(self) -> list[str]:
        """Version tags (W&B: add with `tags.append`, replace by assignment; saved by log or `save()`)."""
        return self._tags

    @tags.setter
    def tags(self, value: Sequence[str]) -> None:
        self._tags = _validate_tags(value)

    @property
    def ttl(self) -> datetime.timedelta | None:
        """Time to live (a `datetime.timedelta`, or None to keep the version): `amphora gc` deletes the
        version once `created_at + ttl` has passed."""
        return self._ttl

    @ttl.setter
    def ttl(self, value: datetime.timedelta | None) -> None:
        self._ttl = _validate_ttl(value)

    @property
    def file_count(self) -> int:
        return self._version["fileCount"] if self._version else len(self._entries)

    @property
    def qualified_name(self) -> str:
        """`entity/project/name:vN` once logged."""
        if not self._version:
            return self._name
        return format_reference(parse_reference(f"{self.entity}/{self.project}/{self._name}:{self.version}"))

    @property
    def digest(self) -> str:
        if self._version:
            return self._version["digest"]
        self._finalize_local()
        return artifact_digest(self._entries)

    @property
    def size(self) -> int:
        if self._version:
            return self._version["size"]
        self._finalize_local()
        return sum(e["size"] for e in self._entries.values())

    @property
    def metadata(self) -> dict[str, Any]:
        return self._metadata

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        if not isinstance(value, dict):
            raise AmphoraError("invalid_request", f"Artifact metadata must be a dict of JSON values, got {type_name(value)}.")
        self._metadata = dict(value)

    @property
    def aliases(self) -> list[str]:
        return self._aliases

    @aliases.setter
    def aliases(self, value: Sequence[str]) -> None:
        self._aliases = list(value)

    @property
    def manifest(self) -> dict[str, dict[str, Any]]:
        """Logical path -> {"digest", "size", "ref"?, "extra"?} (a copy)."""
        self._load_manifest()
        if self._version is None:
            self._finalize_local()
        return {p: _wire(e) for p, e in self._entries.items()}

    def __repr__(self):
        return f"Artifact({self.qualified_name if self._version else repr(self._name)}, type={self._type!r})"

    # ------------------------------------------------------------------ adding content (drafts)
    def _require_draft(self, what):
        if self._version is not None:
            raise AmphoraError("invalid_request", f"Cannot {what}: {self.qualified_name} is already logged and its files never change. Create a new "
                               f"Artifact({self._name!r}, type={self._type!r}) to log new content.")

    def _put(self, logical, entry, overwrite=False):
        validate_manifest_path(logical)
        self._check_overwrite({logical: entry}, overwrite)
        check_path_collisions(list(self._entries) + [logical] if logical not in self._entries else list(self._entries))
        self._entries[logical] = entry

    def _put_local(self, logical, local, overwrite=False):
        self._put(logical, {"digest": None, "size": None, "_local": local}, overwrite)
        # new_file's own temp file may be opened for writing again: never linked into the cache
        # (add_file marks its path again).
        self._immutable.discard(logical)

    def _check_overwrite(self, incoming, overwrite):
        """W&B's rule: a path already in the draft may only get other content with overwrite=True
        (the same content again is fine)."""
        if overwrite:
            return
        for logical, entry in incoming.items():
            had = self._entries.get(logical)
            if had is None or _same_source(had, entry):
                continue
            if _entry_digest(had) != _entry_digest(entry):
                raise AmphoraError("invalid_path", f'Cannot add the same path twice: "{logical}" is already in artifact {self._name!r} with other '
                                   "content. Pass overwrite=True to replace it (merge=True for add_dir), or store it "
                                   "under another name.")

    def add_file(self, local_path: str | os.PathLike, name: str | None = None, is_tmp: bool = False, skip_cache: bool = False,
                 policy: str = "mutable", overwrite: bool = False) -> ArtifactEntry:
        """Adds one file, stored as `name` (default: its file name). A path already in the draft with
        other content raises ValueError unless overwrite=True. `is_tmp=True` names the file after its
        content; `skip_cache=True` keeps it out of the local cache. The file is read when the artifact is
        logged. `policy="mutable"` (default): the local cache gets its own copy of the file.
        `policy="immutable"` promises the file will not change: the cache takes a hard link to it
        instead of a copy, so logging writes no second copy and the cache costs no disk while the
        file exists (where no link can be made, a copy as with "mutable"). If the file is changed in
        place anyway, the next download of that version notices the changed blob, drops it and
        fetches it again: nothing is lost. `skip_cache=True` wins over either policy."""
        self._require_draft("add a file")
        _check_policy(policy)
        if not os.path.isfile(local_path):
            raise AmphoraError("invalid_path", f'add_file: "{local_path}" is not a file. Pass the path of an existing file '
                               "(use add_dir for folders).")
        logical = os.fspath(name) if name is not None else os.path.basename(local_path)
        if os.sep != "/" and name is None:
            logical = logical.replace(os.sep, "/")
        if is_tmp:
            folder, _, base = logical.rpartition("/")
            parts = base.split(".")
            parts[0] = sha256_file(local_path)[0][:20]
            logical = (folder + "/" if folder else "") + ".".join(parts)
        self._put_local(logical, os.path.abspath(local_path), overwrite=overwrite)
        self._note_cache_options([logical], skip_cache, policy)
        return ArtifactEntry(self, logical, self._entries[logical])

    def _note_cache_options(self, paths, skip_cache, policy):
        """Remembers how paths just added go into the local cache; adding a path again replaces it."""
        immutable = policy == "immutable"
        for p in paths:
            if skip_cache:
                self._skip_cache.add(p)
            else:
                self._skip_cache.discard(p)
            if immutable:
                self._immutable.add(p)
            else:
                self._immutable.discard(p)

    def add_dir(self, local_path: str | os.PathLike, name: str | None = None, skip_cache: bool = False, policy: str = "mutable",
                merge: bool = False) -> None:
        """Adds every file under a folder, stored under the prefix `name` (default: at the top). A file
        already in the draft with other content raises ValueError unless merge=True. `skip_cache`
        and `policy` as in add_file: with `policy="immutable"` the local cache hard-links the files
        instead of copying them."""
        self._require_draft("add a folder")
        _check_policy(policy)
        if not os.path.isdir(local_path):
            raise AmphoraError("invalid_path", f'add_dir: "{local_path}" is not a folder. Pass the path of an existing folder '
                               "(use add_file for single files).")
        root = os.path.abspath(local_path)
        root_prefix = root if root.endswith(os.sep) else root + os.sep
        real_root = os.path.realpath(root)
        prefix = name.strip("/") + "/" if name else ""
        added = {}
        seen = set()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            real_dir = os.path.realpath(dirpath)
            if real_dir != real_root and not real_dir.startswith(real_root.rstrip(os.sep) + os.sep):
                raise AmphoraError("invalid_path", f'add_dir: folder "{dirpath}" is a symbolic link to "{real_dir}", outside "{root}". Copy the '
                                   "files into the folder or add them with add_file.")
            if real_dir in seen:  # a link back to a folder already walked: don't loop
                dirnames[:] = []
                continue
            seen.add(real_dir)
            dirnames.sort()
            # The folder's entry types (from the listing itself, no stat): a plain file in a folder
            # already proven inside root is inside too, so only links pay for realpath's lstat chain.
            with os.scandir(dirpath) as listing:
                kinds = {e.name: e for e in listing}
            for fn in sorted(filenames):
                full = os.path.join(dirpath, fn)
                entry = kinds.get(fn)
                if entry is not None and not entry.is_symlink():
                    if not entry.is_file():
                        continue  # sockets, fifos
                else:
                    real = os.path.realpath(full)
                    if not real.startswith(real_root.rstrip(os.sep) + os.sep):
                        raise AmphoraError("invalid_path", f'add_dir: "{full}" is a symbolic link to "{real}", outside "{root}". Copy the '
                                           "file into the folder or add it with add_file.")
                    if not os.path.isfile(full):
                        continue  # dangling links
                # os.walk joins names onto root: the part after it is the relative path (relpath
                # normalises both paths again, for each of 10,000 files).
                rel = full[len(root_prefix):] if full.startswith(root_prefix) else os.path.relpath(full, root)
                rel = rel.replace(os.sep, "/")
                added[prefix + rel] = full
        for logical in added:
            validate_manifest_path(logical)
        entries = {logical: {"digest": None, "size": None, "_local": full} for logical, full in added.items()}
        self._check_overwrite(entries, merge)
        check_path_collisions([p for p in self._entries if p not in added] + list(added))
        self._entries.update(entries)
        self._note_cache_options(list(entries), skip_cache, policy)

    def new_file(self, name: str, mode: str = "x", encoding: str | None = None) -> IO[Any]:
        """A writable file stored as `name` when closed: `with artifact.new_file("x.txt") as f: ...`.
        W&B's default mode "x" refuses a name the draft already holds (ValueError); "w" replaces it."""
        self._require_draft("add a file")
        validate_manifest_path(name)
        if mode not in _NEW_FILE_MODES:
            raise AmphoraError("invalid_request", f'new_file: mode {mode!r} is not supported; use "x" or "w" (text), "xb" or '
                               '"wb" (bytes), optionally with "+".')
        exclusive = "x" in mode
        if exclusive and name in self._entries:
            raise AmphoraError("invalid_path", f'new_file: "{name}" is already in artifact {self._name!r}. Use mode="w" to replace it, or '
                               "another name.")
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="amphora-artifact-")
        local = os.path.join(self._tmpdir, *name.split("/"))
        os.makedirs(os.path.dirname(local), exist_ok=True)
        if "b" not in mode and encoding is None:
            encoding = "utf-8"
        # Our temp file may exist from an earlier new_file of a removed entry: the check above is the rule.
        return _NewFile(self, name, local, mode.replace("x", "w"), encoding, overwrite=not exclusive)

    def add(self, obj: ToJson, name: str) -> ArtifactEntry:
        """Adds a Table (or any object with a `to_json()`), stored as `name` + its suffix."""
        self._require_draft("add an object")
        if not hasattr(obj, "to_json"):
            raise AmphoraError("invalid_request", "Artifact.add expects an amphora.Table or another object with to_json(); "
                               f"got {type_name(obj)}. Use add_file or new_file for files.")
        suffix = getattr(obj, "artifact_suffix", ".json")
        logical = name if name.endswith(suffix) else name + suffix
        with self.new_file(logical, mode="w") as f:
            f.write(obj.to_json())
        return ArtifactEntry(self, logical, self._entries[logical])

    def get(self, name: str) -> Any:
        """The object logged with `add(obj, name)` (a Table, or the stored JSON for other types);
        None when the artifact holds no such object, as in W&B."""
        self._require_logged("get an object from")
        self._load_manifest()
        for suffix in (Table.artifact_suffix, ".json", ""):
            logical = name if name.endswith(suffix) and suffix else name + suffix
            if logical in self._entries:
                break
        else:
            return None
        local = self.get_entry(logical).download(root=self._scratch_root())
        with open(local, "r", encoding="utf-8") as f:
            data = json.load(f)
        if isinstance(data, dict) and data.get("_type") == "table":
            return Table(columns=data.get("columns"), data=data.get("data"))
        return data

    def _scratch_root(self):
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="amphora-artifact-")
        return os.path.join(self._tmpdir, "get")

    def add_reference(self, uri: str, name: str | None = None, checksum: bool = True, max_objects: int | None = None) -> list[ArtifactEntry]:
        """Tracks an external object without copying it: http(s):// (digest from ETag, size from
        Content-Length), file:// (digest of the content; a folder adds every file in it), s3:// and
        gs:// (a key, or a prefix ending in "/" that adds its objects, at most max_objects, default
        10,000; read with your own AWS / Google credentials through boto3 / google-cloud-storage);
        checksum=False records the URI itself as the digest. Returns the added entries."""
        self._require_draft("add a reference")
        found = resolve_reference(uri, name=name, checksum=checksum, max_objects=max_objects)
        if max_objects is not None and len(found) > max_objects:
            raise AmphoraError("invalid_request", f'add_reference: "{uri}" holds {len(found)} files, more than max_objects={max_objects}.')
        self._check_overwrite(dict(found), False)
        check_path_collisions([p for p in self._entries if p not in dict(found)] + [p for p, _ in found])
        for p, e in found:
            self._entries[p] = e
        return [ArtifactEntry(self, p, e) for p, e in found]

    def remove(self, item: str | os.PathLike | ArtifactEntry) -> None:
        """Removes a file, or every file under a folder, from a draft (a path, or an entry from
        add_file/get_entry). A path the draft does not hold raises FileNotFoundError, as in W&B."""
        self._require_draft("remove a file")
        name = item.path if isinstance(item, ArtifactEntry) else os.fspath(item).replace(os.sep, "/").strip("/")
        under = [p for p in self._entries if p.startswith(name + "/")]
        if name not in self._entries and not under:
            raise PathNotInArtifactError(f'Artifact path "{name}" is not in artifact {self._name!r}; its files are: {", ".join(sorted(self._entries)[:10]) or "(none)"}.')
        for p in ([name] if name in self._entries else []) + under:
            del self._entries[p]
            self._skip_cache.discard(p)
            self._immutable.discard(p)

    # ------------------------------------------------------------------ reading
    def get_entry(self, name: str) -> ArtifactEntry:
        """The entry stored at `name`; KeyError (an AmphoraError too) when there is none, as in W&B."""
        self._load_manifest()
        name = os.fspath(name)
        entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(sorted(self._entries)[:10])
            raise EntryNotFoundError(f'Artifact {self.qualified_name} has no file "{name}"; its files are: {known or "(none)"}.')
        return ArtifactEntry(self, name, entry)

    get_path = get_entry  # W&B's older name

    def files(self, names: Sequence[str] | None = None, per_page: int = 50) -> list[ArtifactEntry]:
        """The files of the version (each with name, path, size, digest), sorted by path; `names`
        keeps only those. The manifest is read in one request, so `per_page` changes nothing."""
        self._load_manifest()
        wanted = None if names is None else set(names)
        return [ArtifactEntry(self, p, e) for p, e in sorted(self._entries.items()) if wanted is None or p in wanted]

    def _load_manifest(self):
        if self._manifest_loaded:
            return
        c = self._client
        # A committed version's manifest never changes: one this client (or the TypeScript SDK)
        # accepted before is read from the cache instead of asked for again.
        entries = manifest_cache.load(c.cache_dir, c.http.base_url, self._version)
        if entries is None:
            answer = c.http.get(c.version_path(self.entity, self.project, self._name, self.version) + "/manifest")
            entries = answer.get("entries") if isinstance(answer, dict) else None
            if isinstance(answer, dict) and answer.get("digest") != self._version["digest"]:
                check_received_manifest(entries, self.qualified_name, digest=answer.get("digest"))
            # The manifest must be the one this version's digest, file count and size describe.
            check_received_manifest(entries, self.qualified_name, digest=self._version["digest"],
                                    file_count=self._version["fileCount"], size=self._version["size"])
            manifest_cache.store(c.cache_dir, c.http.base_url, self._version, entries)
        self._entries = {p: dict(e) for p, e in entries.items()}
        self._manifest_loaded = True

    def _default_root(self):
        sep = "-" if _WINDOWS else ":"
        return os.path.join(".", "artifacts", f"{self._name}{sep}{self.version}")

    def download(self, root: str | os.PathLike | None = None, allow_missing_references: bool = False, skip_cache: bool | None = None,
                 path_prefix: str | None = None, multipart: bool | None = None) -> str:
        """Materializes the files under `root` (default ./artifacts/<name>:<version>), fetching only
        what is missing and verifying every hash; returns the folder. `path_prefix` downloads only the
        files under it; `allow_missing_references=True` skips references whose object is gone.
        `skip_cache=True` adds nothing to the local cache: fetched files are verified and written to
        the root only (blobs the cache already holds are still used). `multipart` is accepted for
        W&B compatibility (large files are always streamed)."""
        if self._version is None:
            raise ArtifactNotLoggedError(f"Artifact {self._name!r} is not logged yet, so there is nothing to download; log it with "
                                         "run.log_artifact first, or read its local files directly.")
        root = root or self._default_root()
        self._load_manifest()
        paths = sorted(p for p in self._entries if path_prefix is None or p.startswith(path_prefix))
        if not allow_missing_references:
            self._transfer_files(root, paths, skip_cache=skip_cache)
            return root
        stored = [p for p in paths if not self._entries[p].get("ref")]
        self._transfer_files(root, stored, skip_cache=skip_cache)
        for p in paths:
            if self._entries[p].get("ref"):
                try:
                    self._transfer_files(root, [p], skip_cache=skip_cache)
                except AmphoraError as e:
                    if e.code != "not_found":
                        raise
        return root

    def verify(self, root: str | os.PathLike | None = None) -> None:
        """Checks that `root` (default: the download folder) holds exactly this version's files with
        their recorded SHA-256; references are not checked. Raises ValueError naming the first difference."""
        self._require_logged("verify")
        root = root or self._default_root()
        self._load_manifest()
        for dirpath, _, filenames in os.walk(root):
            for fn in filenames:
                rel = os.path.relpath(os.path.join(dirpath, fn), root).replace(os.sep, "/")
                if rel not in self._entries:
                    raise AmphoraError("invalid_path", f'verify: found "{rel}" in {root}, which is not a file of {self.qualified_name}.')
        for p, e in sorted(self._entries.items()):
            if e.get("ref"):
                continue
            local = os.path.join(root, *p.split("/"))
            if not os.path.isfile(local):
                raise AmphoraError("invalid_path", f'verify: "{p}" of {self.qualified_name} is missing from {root}; download it again.')
            if sha256_file(local)[0] != e["digest"]:
                raise AmphoraError("digest_mismatch", f'verify: "{p}" in {root} differs from {self.qualified_name} (digest mismatch); download '
                                   "it again.")

    def checkout(self, root: str | os.PathLike | None = None) -> str:
        """Makes `root` hold exactly this version: downloads it and deletes every other file there."""
        self._require_logged("check out")
        root = root or self._default_root()
        self._load_manifest()
        if os.path.isdir(root):
            for dirpath, dirnames, filenames in os.walk(root, topdown=False):
                for fn in filenames:
                    full = os.path.join(dirpath, fn)
                    if os.path.relpath(full, root).replace(os.sep, "/") not in self._entries:
                        os.remove(full)
                for d in dirnames:
                    full = os.path.join(dirpath, d)
                    if not os.path.islink(full) and not os.listdir(full):
                        os.rmdir(full)
        return self.download(root)

    def new_draft(self) -> Artifact:
        """A draft holding this version's files, name, type, description and metadata: add or remove
        files, then log it as the next version (only new files are uploaded)."""
        self._require_logged("make a draft of")
        self._load_manifest()
        draft = Artifact(self._name, self._type, description=self.description, metadata=copy.deepcopy(self._metadata))
        draft._entries = {p: {k: v for k, v in e.items() if not k.startswith("_")} for p, e in self._entries.items()}
        return draft

    def link(self, target_path: str, aliases: Sequence[str] | None = None) -> Artifact:
        """Links this version into a registry collection (`wandb-registry-NAME/COLLECTION`) and returns
        the linked version. A draft is logged first. Linking the same version again returns its link
        with the aliases added."""
        if self._version is None:
            self.save()
        c = self._client
        entity, project, collection = link_target(target_path, lambda: self.entity)
        validate_artifact_name(collection)
        wanted = [aliases] if isinstance(aliases, str) else list(aliases or [])
        for alias in wanted:
            validate_alias(alias)
        src_entity, src_project, src_name, src_version = self._source()
        answer = c.http.post(c.collection_path(entity, project, collection) + "/links",
                             {"source": {"entity": src_entity, "project": src_project, "name": src_name, "version": src_version},
                              "aliases": wanted})
        return Artifact._from_version(c, unwrap_version(answer))

    def _transfer_files(self, root, paths, skip_cache=False):
        self._load_manifest()
        self.last_transfer = self._client.transfer.download(self._entries, root, paths, Stats(), skip_cache=bool(skip_cache))
        return self.last_transfer

    # ------------------------------------------------------------------ server-side changes
    def save(self) -> Artifact:
        """Committed: persists description, metadata and alias changes. Draft: logs it."""
        if self._version is None:
            run = session.current_run()
            if run is not None:
                run.log_artifact(self)
            else:
                with session.start_run(job_type="auto", reinit=True) as run:
                    run.log_artifact(self)
            return self
        description, metadata, aliases, tags, ttl = self._saved
        body = {}
        if self.description != description:
            body["description"] = self.description
        if self._metadata != metadata:
            body["metadata"] = self._metadata
        for alias in self._aliases:
            validate_alias(alias)
        # `latest` too: W&B lets it be removed (the next logged version takes it again).
        add = [a for a in self._aliases if a not in aliases]
        remove = [a for a in aliases if a not in self._aliases]
        if add or remove:
            body["aliases"] = {"add": add, "remove": remove}
        if self._tags != tags:
            body["tags"] = _validate_tags(self._tags)
        if self._ttl != ttl:
            body["ttlSeconds"] = ttl_seconds(self._ttl)
        if body:
            c = self._client
            answer = c.http.patch(c.version_path(self.entity, self.project, self._name, self.version), body)
            self._apply_version(unwrap_version(answer))
        return self

    def delete(self, delete_aliases: bool = False) -> None:
        self._require_logged("delete")
        c = self._client
        query = {"deleteAliases": "true"} if delete_aliases else None
        answer = c.http.delete(c.version_path(self.entity, self.project, self._name, self.version), query=query)
        self._apply_version(unwrap_version(answer))

    def wait(self, timeout: float | None = None) -> Artifact:
        """Logging returns once the version is committed, so there is nothing to wait for."""
        if self._version is None:
            raise ArtifactNotLoggedError(f"Artifact {self._name!r} is not logged yet; log it with run.log_artifact, then wait.")
        return self

    # ------------------------------------------------------------------ lineage
    def _require_logged(self, what):
        if self._version is None:
            raise ArtifactNotLoggedError(f"Cannot {what} artifact {self._name!r}: it is not logged yet. Log it with run.log_artifact "
                                         "first.")

    def logged_by(self) -> PublicRun | None:
        """The run that logged this version (None if it was logged outside a run)."""
        self._require_logged("ask who logged")
        producer = self._version.get("producerRun")
        if not producer:
            return None
        entity, project = self._source()[:2]  # a link's producer ran in its source's project
        return PublicRun._fetch(self._client, entity, project, producer["id"])

    def used_by(self) -> list[PublicRun]:
        """The runs that used this version."""
        self._require_logged("ask who used")
        c = self._client
        answer = c.http.get(c.version_path(self.entity, self.project, self._name, self.version) + "/consumers")
        return [PublicRun(c, r) for r in answer["items"]]

    # ------------------------------------------------------------------ logging (used by Run)
    def _finalize_local(self, stat_cache=None, transfer=None, stream=False):
        """Hashes every local file not hashed yet (in parallel, streaming; unchanged files are
        answered from the stat cache when one is given). With `transfer` (logging), a small file
        is read once: the bytes just hashed go into the blob cache right away (a file added with
        policy="immutable" is hard-linked instead) and are kept (up to _HELD_MAX in all) for the
        upload, so the file is neither read again nor re-stat'ed. With
        `stream`, they are uploaded in groups while hashing goes on instead: the StreamingUpload
        returned (None without `stream`) is to be finished by the caller."""
        pending = [(p, e) for p, e in self._entries.items() if e.get("digest") is None]
        self._from_stat_cache = set()
        self._cached_from_bytes = set()  # digests the cache took while hashing (bytes or a link)
        self._held = {}
        held = 0
        linked = []  # files the cache just hard-linked: their ctime moved

        def hash_one(path, st):
            if stat_cache is None:
                return sha256_file(path)
            digest, size, _, known = stat_cache.read(path, st)
            if known:
                self._from_stat_cache.add(digest)
            return digest, size

        # Small files one after another, large ones on threads (their reads and hashing run without
        # the interpreter lock): a thread per 4 KiB file spent more on lock handoffs than on work.
        jobs = []
        for i, (_, e) in enumerate(pending):
            try:
                st = os.stat(e["_local"])
            except OSError:
                st = None  # hashing it raises the error that names the file
            jobs.append((i, e["_local"], st))
        small = [j for j in jobs if j[2] is not None and j[2].st_size <= _SMALL_FILE]
        large = [j for j in jobs if j[2] is None or j[2].st_size > _SMALL_FILE]
        results = [None] * len(pending)
        uploader = None
        if stream and transfer is not None and stat_cache is not None and small:
            uploader = StreamingUpload(transfer, sum(j[2].st_size for j in small), len(small))
        try:
            if stat_cache is None:
                for i, path, st in small:
                    results[i] = sha256_file(path)
            else:
                for i, path, st in small:
                    digest, size, data, known = stat_cache.read(path, st)
                    results[i] = (digest, size)
                    if known:
                        self._from_stat_cache.add(digest)
                    elif data is not None and transfer is not None:
                        logical = pending[i][0]
                        if logical not in self._skip_cache and digest not in self._cached_from_bytes:
                            if logical not in self._immutable:
                                transfer.adopt_bytes(data, digest)
                            elif transfer.link_or_adopt_bytes(path, data, digest):
                                linked.append(path)
                            self._cached_from_bytes.add(digest)
                        if uploader is not None:
                            uploader.add({"digest": digest, "size": size, "path": path, "bytes": data})
                            continue
                        if digest not in self._held and held + len(data) <= _HELD_MAX:
                            self._held[digest] = data
                            held += len(data)
                    if uploader is not None:
                        uploader.skip(path, st.st_size)  # known, or grown since its stat: sent at the end if needed
            for (i, _, _), r in zip(large, parallel(lambda j: hash_one(j[1], j[2]), large)):
                results[i] = r
        except BaseException:
            if uploader is not None:
                uploader.close()
            raise
        finally:
            if stat_cache is not None:
                # The rows just recorded for linked files still hold their ctime from before the link.
                stat_cache.refresh_linked(linked)
                stat_cache.flush()
        for (p, e), (digest, size) in zip(pending, results):
            e["digest"], e["size"] = digest, size
        return uploader

    def _prepare_upload(self, client, optimistic=False):
        """Hashes and uploads what the server lacks; returns the manifest. An empty artifact is
        allowed, as in W&B. Entries without a local file (from new_draft or an incremental
        base) name blobs the server already holds. With `optimistic`, a log whose every file the
        stat cache knew (an unchanged folder logged again) asks the server nothing before the
        commit: the commit answers missing_blobs if it lacks any, and _post_version sends them."""
        try:
            streaming = self._finalize_local(client.transfer.stat_cache, client.transfer, stream=True)
        finally:
            # The small files just hashed went to the cache's pending pack: written now, while the
            # last upload groups are in flight (and after a failed hash too).
            client.transfer.settle_cache()
        # What was sent while hashing: everything else (large files, and files the stat cache
        # knew when anything else was new) is negotiated below; durable by one flush at the end.
        streamed = streaming.finish() if streaming is not None else None
        streamed_any = bool(streamed and streamed.files_uploaded)
        held, self._held = self._held, {}
        manifest = {p: _wire(e) for p, e in self._entries.items()}
        validate_manifest(manifest)
        local_by_digest = {e["digest"]: e["_local"] for e in self._entries.values() if e.get("_local") and not e.get("ref")}
        blobs = [{"digest": b["digest"], "size": b["size"], "path": local_by_digest[b["digest"]]}
                 for b in stored_blobs(manifest) if b["digest"] in local_by_digest]
        known = self._from_stat_cache
        self._unsent = blobs if optimistic and blobs and all(b["digest"] in known for b in blobs) and not streamed_any else []
        if self._unsent:
            stats = Stats()
        else:
            sent = streaming.sent if streaming is not None else set()
            rest = [b for b in blobs if b["digest"] not in sent]
            for b in rest:
                data = held.get(b["digest"])
                if data is not None and len(data) == b["size"]:
                    b["bytes"] = data
            try:
                stats = client.transfer.upload(rest, Stats(), flush=not streamed_any)
            finally:
                for b in rest:
                    b.pop("bytes", None)  # the bytes go no further than the upload
            if streamed_any:
                stats.add(bytes_uploaded=streamed.bytes_uploaded, files_uploaded=streamed.files_uploaded)
                client.transfer.flush()
        self.last_transfer = stats
        # Files the stat cache knew went into the cache when they were first logged; small files
        # just hashed went in from their bytes or by link (_finalize_local).
        skip = known | self._cached_from_bytes
        sources = self._cache_sources()
        adopt = [(b["size"],) + sources[b["digest"]] for b in blobs if b["digest"] in sources and b["digest"] not in skip]
        self._adopt = [(local, digest, link) for size, local, digest, link in adopt if size <= _SMALL_FILE]
        # Large files are copied (or linked) into the cache on the transfer threads while the server
        # commits (the cache is content-addressed and verified on every read, so an early copy is
        # safe): a 512 MiB copy otherwise adds its whole duration after the commit, one file after another.
        pool = client.transfer.pool()
        self._adopting = [(local, pool.submit(client.transfer.adopt, local, digest, link))
                          for size, local, digest, link in adopt if size > _SMALL_FILE]
        return manifest

    def _cache_sources(self):
        """digest -> (local file, digest, link): where the local cache takes each blob from. A path
        added with policy="immutable" is hard-linked (link=True) and preferred; otherwise any path
        not added with skip_cache=True is copied; a blob that only skip_cache paths hold is not cached."""
        sources = {}
        for p, e in self._entries.items():
            local = e.get("_local")
            if not local or e.get("ref") or p in self._skip_cache:
                continue
            link = p in self._immutable
            had = sources.get(e["digest"])
            if had is None or (link and not had[2]):
                sources[e["digest"]] = (local, e["digest"], link)
        return sources

    def _post_version(self, client, path, body):
        """Commits a version (path: …/artifacts/NAME/versions). After an optimistic
        _prepare_upload that hashed nothing (most likely content a version already holds), the
        content is first named by its digest (…/relog): the server need not receive and check the
        whole manifest again; not_found means it is new after all. A server that lacks some of the
        blobs (garbage-collected, or another server than the stat cache saw) answers
        missing_blobs: the blobs are negotiated and sent, and the commit is made again."""
        if getattr(self, "_unsent", None):
            relog = {k: v for k, v in body.items() if k != "manifest"}
            relog["digest"] = artifact_digest(body["manifest"])
            try:
                answer = client.http.post(path[: -len("/versions")] + "/relog", relog)
                self._unsent = []
                return answer
            except AmphoraError as e:
                if e.code != "not_found":
                    raise
        try:
            return client.http.post(path, body)
        except AmphoraError as e:
            unsent, self._unsent = getattr(self, "_unsent", []), []
            if e.code != "missing_blobs" or not unsent:
                raise
            client.transfer.upload(unsent, self.last_transfer)
            return client.http.post(path, body)

    def _log_fields(self):
        """Tags and ttl as the commit request carries them."""
        body = {}
        if self._tags:
            body["tags"] = _validate_tags(self._tags)
        if self._ttl is not None:
            body["ttlSeconds"] = ttl_seconds(self._ttl)
        return body

    def _committed(self, client, version, manifest=None):
        check_received_version(version)
        if manifest is not None and version["digest"] != artifact_digest(manifest):
            raise AmphoraError("internal", f'The server answered the commit of {self._name} with a version of digest {version["digest"]}, but the files '
                               f'sent hash to {artifact_digest(manifest)}; the server is broken or not trustworthy. Check {self._name}:{version["version"]} before using it.')
        adopted = [local for local, _, _ in getattr(self, "_adopt", ())]
        for local, digest, link in getattr(self, "_adopt", ()):
            client.transfer.adopt(local, digest, link)
        for local, copying in getattr(self, "_adopting", ()):
            copying.exception()  # adopt never raises; wait so the stat cache sees the final ctime
            adopted.append(local)
        client.transfer.settle_cache()  # small files adopted just now: one pack
        # The cache's hard link moved those files' ctime: keep them known to the stat cache.
        client.transfer.stat_cache.refresh_linked(adopted)
        client.transfer.stat_cache.flush()
        self._adopt = []
        self._adopting = []
        self._client = client
        self._apply_version(version)
        self._manifest_loaded = True
        if manifest is not None and len(manifest) == version["fileCount"] and sum(e["size"] for e in manifest.values()) == version["size"]:
            # What was just committed is this version's manifest: a later download needs no request for it.
            manifest_cache.store(client.cache_dir, client.http.base_url, version, manifest)

    def __del__(self):
        tmp = getattr(self, "_tmpdir", None)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _wire(entry):
    return {k: v for k, v in entry.items() if not k.startswith("_") and v is not None}


_NEW_FILE_MODES = ("x", "xb", "x+", "xb+", "x+b", "w", "wb", "w+", "wb+", "w+b")


def _check_policy(policy):
    if policy not in _POLICIES:
        raise AmphoraError("invalid_request", f'policy must be "mutable" or "immutable", got {policy!r}.')


def _same_source(a, b):
    return a.get("_local") is not None and a.get("_local") == b.get("_local")


def _entry_digest(entry):
    """The entry's digest, hashing its local file when it has not been hashed yet."""
    if entry.get("digest") is None and entry.get("_local"):
        entry["digest"], entry["size"] = sha256_file(entry["_local"])
    return entry.get("digest")


def _validate_tags(value):
    if isinstance(value, str) or not all(isinstance(t, str) for t in (value or [])):
        raise AmphoraError("invalid_request", f"Artifact tags must be a list of strings such as [\"raw\", \"eu\"], got {value!r}.")
    out = []
    for t in value or []:
        if not t or len(t) > 128 or any(ord(c) < 32 for c in t):
            raise AmphoraError("invalid_request", f"Artifact tag {t!r} is not valid: use 1\u2013128 printable characters.")
        if t not in out:
            out.append(t)
    return out


def _validate_ttl(value):
    if value is None:
        return None
    if not isinstance(value, datetime.timedelta):
        raise AmphoraError("invalid_request", "Artifact ttl must be a datetime.timedelta (for example "
                           f"timedelta(days=30)) or None, got {value!r}.")
    if value.total_seconds() < 1:
        raise AmphoraError("invalid_request", f"Artifact ttl must be at least one second, got {value}.")
    return value


def ttl_seconds(ttl):
    return None if ttl is None else int(ttl.total_seconds())


def type_name(value):
    return type(value).__name__
