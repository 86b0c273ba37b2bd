"""The architecture as a test: which package of ``include/`` may import which.

Bottom to top: ``storage`` (where things live and how they are written) knows nothing of the
pipeline; ``text`` reads and tokenizes files; ``artifacts`` writes and reads the files a version
holds; ``quality`` judges embeddings without knowing where they are stored; ``registry`` names models,
versions and aliases above ``storage``; ``steps`` are the
tasks, using everything below; ``serving`` uses published versions and never runs a step.
``errors``, ``settings`` and ``versions`` (the declared code versions) are shared by all.
A new import against these directions fails here.
"""

import ast
from pathlib import Path

from tests.conftest import PROJECT_ROOT

INCLUDE = PROJECT_ROOT / "include"
SHARED = {"errors", "settings", "versions"}
ALLOWED = {
    "storage": SHARED,
    "text": SHARED | {"storage"},
    "artifacts": SHARED | {"storage"},
    "quality": SHARED | {"artifacts"},
    "registry": SHARED | {"storage"},
    "steps": SHARED | {"storage", "text", "artifacts", "quality", "registry"},
    "serving": SHARED | {"storage", "artifacts", "quality", "registry"},
}


def include_imports(path: Path) -> set[str]:
    """The first component under ``include`` of every ``include.…`` module ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "include" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_module_lives_in_a_package_of_its_role():
    loose = sorted(p.name for p in INCLUDE.glob("*.py"))
    assert loose == ["__init__.py", "cli.py", "errors.py", "settings.py", "versions.py"], loose


def test_packages_import_only_in_the_allowed_directions():
    violations = []
    for package, allowed in ALLOWED.items():
        for path in sorted((INCLUDE / package).rglob("*.py")):
            for imported in include_imports(path) - allowed - {package}:
                violations.append(f"{path.relative_to(PROJECT_ROOT)} imports include.{imported}")
    assert not violations, "\n".join(violations)


def test_shared_modules_import_no_package():
    for name in SHARED:
        assert include_imports(INCLUDE / f"{name}.py") <= SHARED, name


def test_the_checker_sees_a_violation(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text("from include.steps.train_word2vec import train_word2vec\nimport include.storage.paths\n")
    assert include_imports(module) == {"steps", "storage"}
