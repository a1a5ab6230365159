"""`pip install ./python` gives a working package with no dependencies."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

PYTHON_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


class InstallTest(unittest.TestCase):
    def test_pip_installs_the_package_without_dependencies(self):
        with tempfile.TemporaryDirectory() as tmp:
            # Build from a copy so the source folder gets no build/ or egg-info litter.
            src = os.path.join(tmp, "src")
            os.makedirs(src)
            for name in ("pyproject.toml", "README.md"):
                shutil.copy(os.path.join(PYTHON_DIR, name), src)
            shutil.copytree(os.path.join(PYTHON_DIR, "amphora"), os.path.join(src, "amphora"),
                            ignore=shutil.ignore_patterns("__pycache__"))
            target = os.path.join(tmp, "site")
            proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                   "--target", target, src], capture_output=True, text=True, timeout=300)
            self.assertEqual(proc.returncode, 0, proc.stdout[-2000:] + proc.stderr[-3000:])
            installed = sorted(n for n in os.listdir(target) if not n.endswith(".dist-info"))
            self.assertEqual(installed, ["amphora"])  # nothing else came along
            check = subprocess.run(
                [sys.executable, "-c", "import amphora, sys; print(amphora.__file__); print(amphora.__version__); print(amphora.Artifact('x', 'dataset'))"],
                env=dict(os.environ, PYTHONPATH=target), capture_output=True, text=True, timeout=60, cwd=tmp)
            self.assertEqual(check.returncode, 0, check.stderr)
            self.assertTrue(check.stdout.startswith(target), check.stdout)
            self.assertTrue(os.path.isfile(os.path.join(target, "amphora", "py.typed")), "the PEP 561 marker is installed")
            dist_info = [n for n in os.listdir(target) if n.startswith("amphora-") and n.endswith(".dist-info")]
            self.assertEqual(len(dist_info), 1, os.listdir(target))
            with open(os.path.join(target, dist_info[0], "METADATA")) as f:
                metadata = f.read()
            self.assertNotIn("Requires-Dist", metadata)
            # One version source: the package's __version__, which is the release in src/core/version.ts.
            self.assertIn(f"\nVersion: {release_version()}\n", metadata)
            self.assertEqual(check.stdout.splitlines()[1:2], [release_version()])


def release_version():
    with open(os.path.join(PYTHON_DIR, "..", "src", "core", "version.ts")) as f:
        return re.search(r"RELEASE_VERSION = '([^']+)'", f.read()).group(1)
