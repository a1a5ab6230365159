"""The package's shape: modules import each other without cycles (a lazy import inside a function
counts too: it only hides the cycle), and installers get the PEP 561 marker for its type hints."""
import ast
import os
import unittest

PACKAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "amphora")


def package_imports():
    """{module: {modules of the package it imports, at any depth of its code}}."""
    modules = {n[:-3] for n in os.listdir(PACKAGE) if n.endswith(".py")}
    graph = {}
    for name in modules:
        with open(os.path.join(PACKAGE, name + ".py"), encoding="utf-8") as f:
            tree = ast.parse(f.read())
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                targets = [node.module] if node.module else [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("amphora."):
                targets = [node.module.split(".")[1]]
            elif isinstance(node, ast.Import):
                targets = [a.name.split(".")[1] for a in node.names if a.name.startswith("amphora.")]
            else:
                continue
            edges.update(t.split(".")[0] for t in targets if t.split(".")[0] in modules)
        graph[name] = edges - {name}
    return graph


def find_cycle(graph):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return trail[trail.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, trail + [nxt])
                if found:
                    return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


class PackageStructureTest(unittest.TestCase):
    def test_no_module_imports_one_that_imports_it_back(self):
        graph = package_imports()
        self.assertIn("transfer", graph["artifact"])  # the walk sees the package's imports at all
        cycle = find_cycle(graph)
        self.assertIsNone(cycle, f'import cycle: {" -> ".join(cycle or [])}')

    def test_cycle_finder_reports_a_cycle(self):
        self.assertEqual(find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}), ["a", "b", "c", "a"])
        self.assertIsNone(find_cycle({"a": {"b"}, "b": set()}))

    def test_the_package_ships_its_type_hint_marker(self):
        self.assertTrue(os.path.isfile(os.path.join(PACKAGE, "py.typed")))


class PublicApiTypeHintsTest(unittest.TestCase):
    """The calls W&B users make most (module functions, Api, Registry, the Run's W&B methods) carry
    type hints that resolve, so editors and type checkers see them through py.typed."""

    def test_public_calls_are_annotated(self):
        import inspect
        import typing

        import amphora
        from amphora.registries import Registry

        calls = [getattr(amphora, n) for n in ("init", "log", "save", "finish", "use_artifact", "log_artifact", "define_metric",
                                               "link_artifact", "log_model", "use_model", "link_model")]
        calls += [m for cls in (amphora.Api, Registry) for n, m in vars(cls).items() if inspect.isfunction(m) and not n.startswith("_")]
        calls += [getattr(amphora.Run, n) for n in ("log", "define_metric", "link_artifact", "log_model", "use_model", "link_model",
                                                    "log_artifact", "use_artifact")]
        calls.append(amphora.Artifact.link)
        missing = []
        for fn in calls:
            params = [p for p in inspect.signature(fn).parameters.values() if p.name not in ("self", "cls")]
            hints = typing.get_type_hints(fn)
            missing += [f"{fn.__qualname__}({p.name})" for p in params if p.name not in hints]
            if "return" not in hints:
                missing.append(f"{fn.__qualname__} -> ?")
        self.assertEqual(missing, [])
