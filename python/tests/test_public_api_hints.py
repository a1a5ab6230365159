"""Every public callable of the package carries type hints that resolve, so editors and type checkers
see the whole API through py.typed, not only the calls a user happened to try first."""
import inspect
import typing
import unittest

import amphora
from amphora import api, data_types, errors, live_run, metric_summary, offline, public, registries
from amphora.wire_fields import ProjectRecord, WireField

# Classes a user gets hold of: exported by the package or returned by its calls.
PUBLIC_CLASSES = [
    amphora.Api, api.ArtifactCollection, api.ArtifactType,
    amphora.Artifact, amphora.ArtifactEntry,
    amphora.Run, offline.OfflineRun, offline.DisabledRun, public.PublicRun, live_run.Config, live_run.Summary,
    registries.Registry, registries.ArtifactTypesList, registries.User, registries.Team, registries.UserMember, registries.TeamMember,
    registries._Named, registries._Member,  # bases whose members User/Team/UserMember/TeamMember hand out
    data_types.Image, data_types.Table, data_types.PartitionedTable,
    metric_summary.MetricDefinition, ProjectRecord,
] + [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception) and c.__module__ == errors.__name__]

# Methods left unannotated on purpose, each with the reason.
EXEMPT_DUNDERS = {
    # Protocol methods: their types are the protocol's (Mapping, context manager, repr), which type
    # checkers already know; the constructor is the one dunder a user calls by name, so it is checked.
    "__repr__", "__str__", "__eq__", "__hash__", "__getitem__", "__setitem__", "__delitem__", "__iter__", "__len__",
    "__contains__", "__getattr__", "__setattr__", "__enter__", "__exit__", "__reduce__", "__init_subclass__",
}


def public_callables(classes, functions):
    """[(qualified name, function, what must be annotated)] for every public function, method and property."""
    found = [(f"{fn.__module__}.{fn.__qualname__}", fn, "call") for fn in functions]
    for cls in classes:
        for name, attr in vars(cls).items():
            if name.startswith("_") and (name in EXEMPT_DUNDERS or name != "__init__"):
                continue
            where = f"{cls.__module__}.{cls.__qualname__}.{name}"
            if isinstance(attr, WireField):
                found.append((where, attr, "field"))
            elif isinstance(attr, property):
                found.append((where, attr.fget, "getter"))
                if attr.fset is not None:
                    found.append((f"{where}.setter", attr.fset, "setter"))
            elif isinstance(attr, (classmethod, staticmethod)):
                found.append((where, attr.__func__, "call"))
            elif inspect.isfunction(attr):
                found.append((where, attr, "init" if name == "__init__" else "call"))
    return found


def missing_hints(callables, namespace):
    """Names of the parameters and returns that carry no hint (or one that does not resolve)."""
    missing = []
    for where, fn, kind in callables:
        if kind == "field":  # a WireField must say what type its field holds: WireField[str]("name")
            if not typing.get_args(getattr(fn, "__orig_class__", None)):
                missing.append(f"{where} -> ?")
            continue
        try:
            hints = typing.get_type_hints(fn, localns=namespace)
        except Exception as e:  # a hint naming something that does not exist
            missing.append(f"{where}: hints do not resolve ({type(e).__name__}: {e})")
            continue
        params = [p for p in inspect.signature(fn).parameters.values() if p.name not in ("self", "cls")]
        missing += [f"{where}({p.name})" for p in params if p.name not in hints]
        if kind != "init" and kind != "setter" and "return" not in hints:
            missing.append(f"{where} -> ?")
    return missing


def namespace():
    """Every class of the package by name, so hints written for type checkers only resolve too."""
    import amphora as package
    import importlib
    import pkgutil

    names = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"amphora.{info.name}")
        names.update({k: v for k, v in vars(module).items() if isinstance(v, type) and v.__module__.startswith("amphora")})
    return names


class PublicApiTypeHintsTest(unittest.TestCase):
    def test_every_public_callable_is_annotated(self):
        functions = [v for n in amphora.__all__ if inspect.isfunction(v := getattr(amphora, n))]
        self.assertIn(amphora.init, functions)
        callables = public_callables(PUBLIC_CLASSES, functions)
        self.assertGreater(len(callables), 150)  # the walk sees the whole surface, not a handful
        self.assertEqual(missing_hints(callables, namespace()), [])

    def test_the_walk_reports_what_lacks_hints(self):
        class Sample:
            def __init__(self, name):
                self.name = name

            def typed(self, n: int) -> str:
                return str(n)

            def untyped(self, n, *rest):
                return n

            @property
            def size(self):
                return 1

            def __repr__(self):
                return "Sample"

        def free(x: int):
            return x

        Sample.typed_field = WireField[str]("name")
        Sample.untyped_field = WireField("name")

        found = missing_hints(public_callables([Sample], [free]), {})
        short = sorted(m.split("Sample.")[-1].split("<locals>.")[-1] for m in found)
        self.assertEqual(short, ["__init__(name)", "free -> ?", "size -> ?", "untyped -> ?", "untyped(n)", "untyped(rest)", "untyped_field -> ?"])


if __name__ == "__main__":
    unittest.main()
