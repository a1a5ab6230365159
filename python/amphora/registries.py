"""W&B's Registry: `Api().create_registry`, `Api().registry(name)`, `Api().registries()`.

A registry is the project `wandb-registry-NAME`; its collections hold links to versions logged in
other projects (`run.link_artifact`, `Artifact.link`). A linked version keeps its source's files,
producer and consumers, with its own version number and aliases.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from .errors import AmphoraError, CommInputError
from .names import validate_artifact_type, validate_run_tags
from .run_filters import field_lookup, matches
from .transport import API_PREFIX, enc
from .wire_fields import WireField

if TYPE_CHECKING:  # for hints only: api imports this module
    from .api import Api

REGISTRY_PREFIX = "wandb-registry-"
VISIBILITIES = ("organization", "restricted")
# W&B's legacy Model Registry project: its links go to the built-in model registry.
LEGACY_MODEL_REGISTRY = "model-registry"
_COLLECTION_FIELDS = field_lookup({"name": "name", "type": "type", "description": "description"})
_VERSION_FIELDS = field_lookup({"name": "name", "alias": "aliases", "aliases": "aliases", "version": "version",
                                "type": "type", "tag": "tags", "tags": "tags"})


def registry_route(entity, name):
    """A registry's settings live on its project, `wandb-registry-NAME` (routes.registry in src/core/api.ts)."""
    return f"{API_PREFIX}/projects/{enc(entity)}/{enc(REGISTRY_PREFIX + name)}/registry"


def link_target(target_path, default_entity):
    """(entity, project, collection) of a link target: `[entity/]project/collection`, W&B's
    `wandb-registry-NAME/collection` or the legacy `model-registry/collection`."""
    parts = str(target_path).split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise AmphoraError("invalid_reference", f"Invalid link target {target_path!r}: write it as wandb-registry-NAME/COLLECTION "
                           "(optionally ENTITY/ in front).")
    if ":" in parts[-1]:
        raise AmphoraError("invalid_reference", f"Link target {target_path!r} names a version; give the collection only and pass "
                           "aliases=[...] for the link's aliases.")
    entity = parts[0] if len(parts) == 3 else default_entity()
    project = REGISTRY_PREFIX + "model" if parts[-2] == LEGACY_MODEL_REGISTRY else parts[-2]
    return entity, project, parts[-1]


class ArtifactTypesList(list):
    """The accepted types: new ones may be appended (and removed again until `save()`); saved ones stay,
    as in W&B."""

    def __init__(self, saved: Sequence[str]) -> None:
        super().__init__(saved)
        self._saved = list(saved)

    @property
    def draft(self) -> list[str]:
        return [t for t in self if t not in self._saved]

    def append(self, value: str) -> None:
        validate_artifact_type(value)
        if value not in self:
            super().append(value)

    def remove(self, value: str) -> None:
        if value in self._saved:
            raise AmphoraError("invalid_request", f"Artifact type {value!r} is saved in the registry and cannot be removed "
                               "(W&B's rule); only types appended since the last save() can.")
        super().remove(value)


class Registry:
    """One registry: `name`, `full_name`, `entity`/`organization`, `description`, `visibility`,
    `allow_all_artifact_types`, `artifact_types`, `tags`, `collections()`, `versions()`, `save()`,
    `load()`, `delete()`."""

    def __init__(self, api: Api, data: dict[str, Any]) -> None:
        self._api = api
        self._apply(data)

    def _apply(self, data):
        self._data = data
        self.description = data.get("description")
        self.visibility = data["visibility"]
        self.allow_all_artifact_types = data["allowAllArtifactTypes"]
        self._artifact_types = ArtifactTypesList(data.get("artifactTypes") or [])
        self.tags = list(data.get("tags") or [])

    @classmethod
    def create(cls, api: Api, entity: str, name: str, visibility: str, description: str | None = None,
               artifact_types: Sequence[str] | None = None, tags: Sequence[str] | None = None) -> Registry:
        if visibility not in VISIBILITIES:
            raise AmphoraError("invalid_request", f'create_registry: visibility must be "organization" or "restricted", got {visibility!r}.')
        body = {"visibility": visibility, "description": description,
                "artifactTypes": [validate_artifact_type(t) for t in artifact_types or []]}
        if tags is not None:
            body["tags"] = validate_run_tags(tags)
        try:
            data = api._client.http.put(registry_route(entity, name), body)
        except AmphoraError as e:
            if e.code == "conflict":  # W&B raises ValueError for an existing registry
                raise CommInputError("conflict", e.message, e.details) from None
            raise
        return cls(api, data)

    name = WireField[str]("name")
    full_name = WireField[str]("project")
    entity = WireField[str]("entity")
    organization = entity
    created_at = WireField[str | None]("createdAt", optional=True)
    updated_at = WireField[str | None]("updatedAt", optional=True)

    @property
    def artifact_types(self) -> ArtifactTypesList:
        """The types this registry accepts; append to it, then `save()`."""
        return self._artifact_types

    @property
    def path(self) -> list[str]:
        return [self.entity, self.full_name]

    def collections(self, filter: dict[str, Any] | None = None) -> list[Any]:
        """The registry's collections (ArtifactCollection), by name; `filter` uses W&B's operators on
        name, type and description."""
        items = self._api.artifact_collections(f"{self.entity}/{self.full_name}", None)
        return [c for c in items if matches(c._data, filter, _COLLECTION_FIELDS)]

    def versions(self, filter: dict[str, Any] | None = None) -> list[Any]:
        """Every linked version in the registry (Artifact), collection by collection, newest first."""
        out = []
        for c in self.collections():
            out.extend(v for v in c.versions() if matches(_version_fields(v), filter, _VERSION_FIELDS))
        return out

    def load(self) -> Registry:
        self._apply(self._api._client.http.get(registry_route(self.entity, self.name)))
        return self

    def save(self) -> Registry:
        """Saves description, visibility, tags and newly appended artifact types."""
        if self._artifact_types.draft and self.allow_all_artifact_types:
            raise AmphoraError("invalid_request", f"Registry {self.name!r} allows all artifact types, so appended types mean nothing; "
                               "set allow_all_artifact_types = False first to restrict it to its types.")
        if self.visibility not in VISIBILITIES:
            raise AmphoraError("invalid_request", f'Registry visibility must be "organization" or "restricted", got {self.visibility!r}.')
        body = {"description": self.description, "visibility": self.visibility,
                "allowAllArtifactTypes": bool(self.allow_all_artifact_types),
                "addArtifactTypes": self._artifact_types.draft, "tags": validate_run_tags(self.tags)}
        self._apply(self._api._client.http.patch(registry_route(self.entity, self.name), body))
        return self

    # -------------------------------------------------------------- members (W&B's registry roles)
    def members(self) -> list[Any]:
        """UserMember and TeamMember objects of the registry's own members (entity-wide roles are not listed)."""
        data = self._api._client.http.get(registry_route(self.entity, self.name) + "/members")
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise AmphoraError("internal", "The server's list of registry members has no items; check that client and server versions match.")
        return [_member(i) for i in items]

    def user_members(self) -> list[UserMember]:
        return [m for m in self.members() if isinstance(m, UserMember)]

    def team_members(self) -> list[TeamMember]:
        return [m for m in self.members() if isinstance(m, TeamMember)]

    def add_members(self, *members: str | _Named | _Member) -> Registry:
        """Adds users and teams as viewers (W&B's default; change a role with update_member). Members
        already there keep their role."""
        if not members:
            raise AmphoraError("invalid_request", "add_members() needs at least one user name, User(...) or Team(...).")
        self._api._client.http.post(registry_route(self.entity, self.name) + "/members",
                                    {"members": [_member_ref(m) for m in members]})
        return self

    def update_member(self, member: str | _Named | _Member, role: str) -> Registry:
        ref = _member_ref(member)
        self._api._client.http.patch(self._member_route(ref), {"role": _registry_role(role)})
        return self

    def remove_members(self, *members: str | _Named | _Member) -> Registry:
        for ref in [_member_ref(m) for m in members]:
            self._api._client.http.delete(self._member_route(ref))
        return self

    def _member_route(self, ref):
        return f"{registry_route(self.entity, self.name)}/members/{ref['kind']}/{enc(ref['name'])}"

    def delete(self) -> None:
        """Deletes the registry and its links (the linked versions stay in their projects). Irreversible."""
        self._api._client.http.delete(registry_route(self.entity, self.name))

    def __eq__(self, other):
        return isinstance(other, Registry) and other.path == self.path

    def __hash__(self):
        return hash(tuple(self.path))

    def __repr__(self):
        return f"<Registry {self.entity}/{self.name} ({self.visibility})>"


REGISTRY_ROLES = ("viewer", "member", "admin")


class _Named:
    """A user or team named as a registry member (W&B passes User/Team objects; names do here)."""

    kind = ""

    def __init__(self, name: str):
        self.name = str(name)

    def __eq__(self, other):
        return type(other) is type(self) and other.name == self.name

    def __hash__(self):
        return hash((self.kind, self.name))

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"


class User(_Named):
    """`registry.add_members(User("alice"))` (a plain "alice" works too)."""

    kind = "user"

    @property
    def username(self) -> str:
        return self.name


class Team(_Named):
    """A team as a registry member: every member of the team gets its registry role."""

    kind = "team"


class _Member:
    """A registry member with its role ("viewer", "member" or "admin")."""

    kind = ""

    def __init__(self, who: _Named, role: str) -> None:
        self._who, self.role = who, role

    @property
    def name(self) -> str:
        return self._who.name

    def __eq__(self, other):
        return type(other) is type(self) and (other._who, other.role) == (self._who, self.role)

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}: {self.role}>"


class UserMember(_Member):
    """W&B's UserMember: `.user` (a User) and `.role`."""

    kind = "user"

    @property
    def user(self) -> User:
        return self._who


class TeamMember(_Member):
    """W&B's TeamMember: `.team` (a Team) and `.role`."""

    kind = "team"

    @property
    def team(self) -> Team:
        return self._who


def _member_ref(member):
    """{kind, name} of a member argument: a user name, User, Team, UserMember or TeamMember."""
    if isinstance(member, str):
        return {"kind": "user", "name": member}
    if isinstance(member, (_Named, _Member)):
        return {"kind": member.kind, "name": member.name}
    raise TypeError("A registry member is a user name, User(name), Team(name), UserMember or TeamMember; "
                    f"got {type(member).__name__}.")


def _registry_role(role):
    if role == "restricted_viewer":
        raise NotImplementedError('Registry role "restricted_viewer" is not supported by Amphora; use "viewer" '
                                  "(read and download), \"member\" or \"admin\".")
    if role not in REGISTRY_ROLES:
        raise AmphoraError("invalid_request", f'A registry role is "viewer", "member" or "admin", got {role!r}.')
    return role


def _member(item):
    """A member from the server's answer, checked (trust no peer)."""
    if not isinstance(item, dict) or item.get("kind") not in ("user", "team") or not isinstance(item.get("name"), str) \
            or item.get("role") not in REGISTRY_ROLES:
        raise AmphoraError("internal", f"The server answered a registry member the client cannot read ({item!r}); "
                           "check that client and server versions match.")
    if item["kind"] == "user":
        return UserMember(User(item["name"]), item["role"])
    return TeamMember(Team(item["name"]), item["role"])


def _version_fields(artifact):
    return {"name": artifact._name, "aliases": artifact.aliases, "version": artifact.version, "type": artifact.type,
            "tags": artifact.tags}
