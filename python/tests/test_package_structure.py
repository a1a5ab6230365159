"""The package's shape: modules import each other without cycles (a lazy import inside a function
counts too: it only hides the cycle; an `if TYPE_CHECKING:` import never runs, so it does not), and
installers get the PEP 561 marker for its type hints."""
import ast
import os
import unittest

PACKAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "amphora")


def runtime_nodes(tree):
    """Every node of the module except those under `if TYPE_CHECKING:` (imports for hints only)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return [n for n in ast.walk(tree) if id(n) not in skipped]


def package_imports():
    """{module: {modules of the package it imports, at any depth of its code}}."""
    modules = {n[:-3] for n in os.listdir(PACKAGE) if n.endswith(".py")}
    graph = {}
    for name in modules:
        with open(os.path.join(PACKAGE, name + ".py"), encoding="utf-8") as f:
            tree = ast.parse(f.read())
        edges = set()
        for node in runtime_nodes(tree):
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

    def test_imports_for_type_hints_only_are_not_edges(self):
        tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .artifact import Artifact\nfrom .errors import E\n")
        found = [n.module for n in runtime_nodes(tree) if isinstance(n, ast.ImportFrom)]
        self.assertEqual(found, ["typing", "errors"])

    def test_cycle_finder_reports_a_cycle(self):
        self.assertEqual(find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}), ["a", "b", "c", "a"])
        self.assertIsNone(find_cycle({"a": {"b"}, "b": set()}))

    def test_the_package_ships_its_type_hint_marker(self):
        self.assertTrue(os.path.isfile(os.path.join(PACKAGE, "py.typed")))
