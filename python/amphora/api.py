"""`Api()`: read and manage artifacts and runs outside of a run."""
from __future__ import annotations

from typing import Any, Sequence

from .artifact import Artifact
from .client import Client, get_client
from .errors import AmphoraError, found
from .names import validate_artifact_name, validate_artifact_type
from .public import PublicRun, parse_run_path
from .reference import ArtifactRef, format_reference, parse_reference
from .registries import Registry, registry_route
from .run_filters import field_lookup, matches, run_matches
from . import session
from .transport import API_PREFIX
from .wire_fields import ProjectRecord, WireField


_REGISTRY_FIELDS = field_lookup({"name": "name", "description": "description", "visibility": "visibility",
                                  "tags": "tags", "tag": "tags"})

class Api:
    def __init__(self, overrides: dict[str, str] | None = None, api_key: str | None = None, base_url: str | None = None) -> None:
        overrides = dict(overrides or {})
        self._client = get_client() if not (api_key or base_url) else Client(base_url, api_key)
        self._entity = overrides.get("entity")
        self._project = overrides.get("project")

    @property
    def default_entity(self) -> str:
        return self._entity or (session.last_init() or (None, None))[0] or self._client.default_entity()

    @property
    def default_project(self) -> str:
        """overrides["project"], else the last init's project in this process, else AMPHORA_PROJECT / the server's default."""
        return self._project or (session.last_init() or (None, None))[1] or self._client.default_project()

    def _qualified(self, ref_text):
        ref = parse_reference(ref_text)
        return ArtifactRef(name=ref.name, selector=ref.selector, entity=ref.entity or self.default_entity,
                           project=ref.project or self.default_project, is_version=ref.is_version,
                           explicit_selector=ref.explicit_selector)

    def artifact(self, name: str, type: str | None = None) -> Artifact:
        """`Api().artifact("entity/project/name:alias")` -> the committed version it points to."""
        ref = self._qualified(name)
        version = self._client.http.get(API_PREFIX + "/resolve", query={"ref": format_reference(ref)})
        if type is not None and version["type"] != type:
            raise AmphoraError("type_mismatch", f'Artifact "{name}" has type "{version["type"]}", not "{type}".')
        return Artifact._from_version(self._client, version)

    def _collection_parts(self, name):
        parts = name.split("/")
        if not 1 <= len(parts) <= 3:
            raise AmphoraError("invalid_reference", f'Invalid artifact name "{name}": write it as [entity/][project/]name.')
        validate_artifact_name(parts[-1])
        project = parts[-2] if len(parts) >= 2 else self.default_project
        entity = parts[-3] if len(parts) >= 3 else self.default_entity
        return entity, project, parts[-1]

    def artifacts(self, type_name: str, name: str, per_page: int = 50, tags: str | Sequence[str] | None = None) -> list[Artifact]:
        """The committed versions of a collection, newest first; `tags` keeps versions holding all of them."""
        wanted = [tags] if isinstance(tags, str) else list(tags or [])
        return [v for v in self.artifact_versions(type_name, name, per_page=per_page) if all(t in v.tags for t in wanted)]

    def artifact_versions(self, type_name: str, name: str, per_page: int = 100) -> list[Artifact]:
        """Every committed version of a collection, newest first as the server lists them."""
        validate_artifact_type(type_name)
        entity, project, coll = self._collection_parts(name)
        c = self._client
        path = c.collection_path(entity, project, coll)
        collection = c.http.get(path)
        if collection.get("type") != type_name:
            raise AmphoraError("type_mismatch", f'Artifact "{name}" has type "{collection.get("type")}", not "{type_name}".')
        out, cursor = [], None
        while True:
            page = c.http.get(path + "/versions", query={"limit": per_page, "cursor": cursor})
            out.extend(Artifact._from_version(c, v) for v in page["items"])
            cursor = page.get("nextCursor")
            if not cursor:
                return out

    versions = artifact_versions

    def artifact_exists(self, name: str, type: str | None = None) -> bool:
        return found(lambda: self.artifact(name, type))

    def run(self, path: str) -> PublicRun:
        """`Api().run("entity/project/run_id")` (entity and project default as for init)."""
        entity, project, run_id = parse_run_path(path, lambda: self.default_entity, lambda: self.default_project)
        return PublicRun._fetch(self._client, entity, project, run_id)

    def runs(self, path: str | None = None, filters: dict[str, Any] | None = None, order: str | None = None,
             per_page: int = 50, include_sweeps: bool = True) -> list[PublicRun]:
        """The runs of `[entity/]project`, newest first, keeping those that match W&B's MongoDB-style
        `filters` on config, summary_metrics, state, tags, … (evaluated here, after listing)."""
        if order not in (None, "-created_at", "+created_at"):
            raise NotImplementedError(f"runs(order={order!r}) is not supported by Amphora; runs come newest first "
                                      "(order=\"-created_at\") or oldest first (\"+created_at\").")
        project = path or self.default_project
        parts = project.split("/")
        entity = parts[0] if len(parts) == 2 else self.default_entity
        c = self._client
        out, cursor = [], None
        while True:
            page = c.http.get(c.project_path(entity, parts[-1]) + "/runs", query={"limit": 1000, "cursor": cursor})
            out.extend(PublicRun(c, r) for r in page["items"] if run_matches(r, filters))
            cursor = page.get("nextCursor")
            if not cursor:
                return out[::-1] if order == "+created_at" else out

    # ------------------------------------------------------------------ registries
    def create_registry(self, name: str, visibility: str, organization: str | None = None, description: str | None = None,
                        artifact_types: Sequence[str] | None = None, tags: Sequence[str] | None = None) -> Registry:
        """A new registry (the project `wandb-registry-NAME`); ValueError if it exists. Without
        `artifact_types` every type may be linked. `organization` is the entity (default: yours)."""
        return Registry.create(self, organization or self.default_entity, name, visibility, description=description,
                               artifact_types=artifact_types, tags=tags)

    def registry(self, name: str, organization: str | None = None) -> Registry:
        """The registry `name` (without the `wandb-registry-` prefix)."""
        return Registry(self, self._client.http.get(registry_route(organization or self.default_entity, name)))

    def registries(self, organization: str | None = None, filter: dict[str, Any] | None = None) -> list[Registry]:
        """The registries you may read (of `organization` when given); `filter` uses W&B's operators on
        name, description, visibility and tags."""
        query = {"entity": organization} if organization else None
        items = self._client.http.get(API_PREFIX + "/registries", query=query)["items"]
        return [Registry(self, d) for d in items if matches(d, filter, _REGISTRY_FIELDS)]

    # ------------------------------------------------------------------ collections and types
    def artifact_collections(self, project_name: str, type_name: str | None, per_page: int = 50) -> list[ArtifactCollection]:
        """The collections of one type (None: every type) in `[entity/]project`, by name."""
        if type_name is not None:
            validate_artifact_type(type_name)
        parts = project_name.split("/")
        entity = parts[0] if len(parts) == 2 else self.default_entity
        c = self._client
        out, cursor = [], None
        while True:
            page = c.http.get(c.project_path(entity, parts[-1]) + "/artifacts",
                              query={"limit": 1000, "cursor": cursor, "type": type_name})
            out.extend(ArtifactCollection(self, d) for d in page["items"])
            cursor = page.get("nextCursor")
            if not cursor:
                return out

    def artifact_collection(self, type_name: str, name: str) -> ArtifactCollection:
        """One collection (`[entity/][project/]name`); ValueError if it has another type."""
        validate_artifact_type(type_name)
        entity, project, coll = self._collection_parts(name)
        data = self._client.http.get(self._client.collection_path(entity, project, coll))
        if data["type"] != type_name:
            raise AmphoraError("type_mismatch", f'Artifact "{name}" has type "{data["type"]}", not "{type_name}".')
        return ArtifactCollection(self, data)

    def artifact_collection_exists(self, name: str, type: str) -> bool:
        return found(lambda: self.artifact_collection(type, name))

    def artifact_types(self, project: str | None = None) -> list[ArtifactType]:
        project = project or self.default_project
        parts = project.split("/")
        entity = parts[0] if len(parts) == 2 else self.default_entity
        c = self._client
        answer = c.http.get(c.project_path(entity, parts[-1]) + "/artifact-types")
        return [ArtifactType(self, entity, parts[-1], t["type"]) for t in answer["items"]]

    def artifact_type(self, type_name: str, project: str | None = None) -> ArtifactType:
        validate_artifact_type(type_name)
        for t in self.artifact_types(project):
            if t.name == type_name:
                return t
        raise AmphoraError("not_found", f'Project "{project or self.default_project}" has no artifacts of type "{type_name}".')


class ArtifactCollection(ProjectRecord):
    """A named artifact (all its versions): `name`, `type`, `description`, `aliases`, `versions()`, `delete()`."""

    def __init__(self, api: Api, data: dict[str, Any]) -> None:
        self._api = api
        self._data = data

    type = WireField[str]("type")
    description = WireField[str | None]("description", optional=True)
    updated_at = WireField[str | None]("updatedAt", optional=True)

    @property
    def aliases(self) -> list[str]:
        """Every alias held by a version of the collection."""
        return [a["alias"] for a in self._data.get("aliases") or []]

    def versions(self) -> list[Artifact]:
        return self._api.artifact_versions(self.type, f"{self.entity}/{self.project}/{self.name}")

    artifacts = versions

    def delete(self) -> None:
        """Deletes every version with its aliases (soft delete; blobs go at the next `amphora gc`)."""
        for v in self.versions():
            v.delete(delete_aliases=True)

    def __repr__(self):
        return f"<ArtifactCollection {self.entity}/{self.project}/{self.name} ({self.type})>"


class ArtifactType:
    def __init__(self, api: Api, entity: str, project: str, name: str) -> None:
        self._api, self.entity, self.project, self.name = api, entity, project, name

    @property
    def type(self) -> str:
        """The type's name (W&B's ArtifactType.type)."""
        return self.name

    def collections(self) -> list[ArtifactCollection]:
        return self._api.artifact_collections(f"{self.entity}/{self.project}", self.name)

    def collection(self, name: str) -> ArtifactCollection:
        return self._api.artifact_collection(self.name, f"{self.entity}/{self.project}/{name}")

    def __repr__(self):
        return f"<ArtifactType {self.name} in {self.entity}/{self.project}>"
