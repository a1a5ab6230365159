"""`Api()`: read and manage artifacts and runs outside of a run."""
from .artifact import Artifact
from .client import get_client
from .errors import AmphoraError
from .names import validate_artifact_name, validate_artifact_type
from .public import PublicRun, parse_run_path
from .reference import format_reference, parse_reference
from .transport import API_PREFIX


class Api:
    def __init__(self, overrides=None, api_key=None, base_url=None):
        overrides = dict(overrides or {})
        self._client = get_client() if not (api_key or base_url) else __import__("amphora.client", fromlist=["Client"]).Client(base_url, api_key)
        self._entity = overrides.get("entity")
        self._project = overrides.get("project")

    @property
    def default_entity(self):
        return self._client.default_entity(self._entity)

    @property
    def default_project(self):
        return self._client.default_project(self._project)

    def _qualified(self, ref_text):
        ref = parse_reference(ref_text)
        from .reference import ArtifactRef

        return ArtifactRef(name=ref.name, selector=ref.selector, entity=ref.entity or self.default_entity,
                           project=ref.project or self.default_project, is_version=ref.is_version,
                           explicit_selector=ref.explicit_selector)

    def artifact(self, name, type=None):
        """`Api().artifact("entity/project/name:alias")` -> the committed version it points to."""
        ref = self._qualified(name)
        version = self._client.http.get(API_PREFIX + "/resolve", query={"ref": format_reference(ref)})
        if type is not None and version["type"] != type:
            raise AmphoraError("type_mismatch", 'Artifact "%s" has type "%s", not "%s".' % (name, version["type"], type))
        return Artifact._from_version(self._client, version)

    def artifact_versions(self, type_name, name, per_page=100):
        """Every committed version of a collection, newest first as the server lists them."""
        validate_artifact_type(type_name)
        parts = name.split("/")
        validate_artifact_name(parts[-1])
        project = parts[-2] if len(parts) >= 2 else self.default_project
        entity = parts[-3] if len(parts) >= 3 else self.default_entity
        c = self._client
        path = c.collection_path(entity, project, parts[-1])
        collection = c.http.get(path)
        if collection.get("type") != type_name:
            raise AmphoraError("type_mismatch", 'Artifact "%s" has type "%s", not "%s".' % (name, collection.get("type"), type_name))
        out, cursor = [], None
        while True:
            page = c.http.get(path + "/versions", query={"limit": per_page, "cursor": cursor})
            out.extend(Artifact._from_version(c, v) for v in page["items"])
            cursor = page.get("nextCursor")
            if not cursor:
                return out

    versions = artifact_versions

    def artifact_exists(self, name, type=None):
        try:
            self.artifact(name, type)
            return True
        except AmphoraError as e:
            if e.code == "not_found":
                return False
            raise

    def run(self, path):
        """`Api().run("entity/project/run_id")` (entity and project default as for init)."""
        entity, project, run_id = parse_run_path(path, lambda: self.default_entity, lambda: self.default_project)
        return PublicRun._fetch(self._client, entity, project, run_id)

    def runs(self, path=None):
        project = path or self.default_project
        parts = project.split("/")
        entity = parts[0] if len(parts) == 2 else self.default_entity
        c = self._client
        out, cursor = [], None
        while True:
            page = c.http.get(c.project_path(entity, parts[-1]) + "/runs", query={"limit": 1000, "cursor": cursor})
            out.extend(PublicRun(c, r) for r in page["items"])
            cursor = page.get("nextCursor")
            if not cursor:
                return out
