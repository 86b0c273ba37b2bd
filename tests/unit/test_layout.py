"""The architecture as a test: which package of ``include/`` may import which.

Bottom to top: ``storage`` (where things live and how they are written) knows nothing of the
pipeline; ``text`` reads and tokenizes files; ``artifacts`` writes and reads the files a version
holds; ``quality`` judges embeddings without knowing where they are stored; ``registry`` names models,
versions and aliases above ``storage``, and mirrors a person's alias move to MLflow through
``mlflow_mirror`` (which reads only ``storage``: the optional MLflow copy); ``steps`` are the
tasks, using everything below; ``serving`` uses published versions and never runs a step;
``lineage`` names what the steps read and wrote for OpenLineage (the data root's layout, the token
schema, the registry's alias keys) and is imported only by the plugins.
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
    "registry": SHARED | {"storage", "mlflow_mirror"},
    "mlflow_mirror": SHARED | {"storage"},
    "steps": SHARED | {"storage", "text", "artifacts", "quality", "registry", "mlflow_mirror"},
    "serving": SHARED | {"storage", "artifacts", "quality", "registry"},
    "lineage": SHARED | {"storage", "text", "registry"},
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


# --- no import cycle between modules ------------------------------------------------------------
#
# Every import counts: at the top of a module, inside a function (a lazy import only hides a cycle
# until the function runs), and under ``if TYPE_CHECKING:`` (it never runs, but the two modules can
# still not be understood or moved one without the other).


def module_names(root: Path) -> dict[str, Path]:
    """Dotted name -> file of every module under the package folder ``root`` (a package's
    ``__init__.py`` is the package), e.g. ``include.steps.train_word2vec``."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def import_graph(root: Path) -> dict[str, set[str]]:
    """The module-level import graph of the package folder ``root``: module -> the modules of
    ``root`` it imports anywhere in its file (top level, in functions, under ``if TYPE_CHECKING:``).
    ``from a.b import c`` is an edge to ``a.b.c`` when that is a module, else to ``a.b``; relative
    imports are resolved."""
    modules = module_names(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
                ]
            else:
                continue
            for target in targets:
                while target and target not in modules:  # ``import a.b.c`` of a module a.b.c, or its package
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` with more than one module (each sorted):
    sets of modules that import each other, directly or through others (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(cycles)


def test_no_import_cycle_between_modules_of_include():
    cycles = import_cycles(import_graph(INCLUDE))
    assert not cycles, "modules that import each other (move what they share to a module both import):\n" + "\n".join(
        " <-> ".join(cycle) for cycle in cycles
    )


def test_the_cycle_finder_sees_lazy_relative_and_type_checking_cycles(tmp_path):
    package = tmp_path / "include"
    (package / "steps").mkdir(parents=True)
    (package / "storage").mkdir()
    for folder in (package, package / "steps", package / "storage"):
        (folder / "__init__.py").write_text("")
    (package / "steps" / "a.py").write_text("from include.steps import b\n")
    (package / "steps" / "b.py").write_text("def f():\n    from .c import g\n")  # lazy and relative
    (package / "steps" / "c.py").write_text("import include.steps.a\ng = 1\n")
    (package / "steps" / "d.py").write_text("from include.steps.a import x\n")  # imports the cycle, not in it
    (package / "storage" / "e.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from include.storage.f import F\n"
    )
    (package / "storage" / "f.py").write_text("from include.storage.e import E\n")
    assert import_cycles(import_graph(package)) == [
        ["include.steps.a", "include.steps.b", "include.steps.c"],
        ["include.storage.e", "include.storage.f"],
    ]
