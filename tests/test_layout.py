"""The package's layout: stages import only earlier stages, no cycle, private names stay home.

Read from the source with ``ast`` (what the modules import) and from the
imported package (what its names are), so a new module is checked the day it
is added. ``docs/architecture.md`` explains the order.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import outcomes

PACKAGE = Path(outcomes.__file__).resolve().parent
REPO = PACKAGE.parent

#: The stages in the order data flows through them; a module may import its own stage and earlier ones.
STAGES = ("contract", "ingest", "episodes", "aggregate", "stats", "analyses", "audit", "synth", "present", "cli")
#: Stages that must not import any other stage of the package.
SELF_CONTAINED = ("contract", "stats")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str:
    """The module an import refers to: the longest prefix of ``name`` that is a module of the package."""
    parts = name.split(".")
    while parts and ".".join(parts) not in MODULES:
        parts.pop()
    return ".".join(parts)


def _imports(module: str) -> list[tuple[str, str, int]]:
    """(module imported, name as written, line) for every import of the package in ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(_resolve(a.name), a.name, node.lineno) for a in node.names if a.name.startswith("outcomes")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("outcomes"):
            assert node.level == 0, f"{module}: use absolute imports"
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.append((_resolve(full), full, node.lineno))
    return found


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None  # None: the top-level package


def test_every_module_belongs_to_a_stage() -> None:
    for module in MODULES:
        stage = _stage(module)
        assert stage is None or stage in STAGES, f"{module} is not in a stage of {STAGES}"


def test_stages_import_only_themselves_and_earlier_stages() -> None:
    problems = []
    for module in MODULES:
        stage = _stage(module)
        if stage is None:
            continue
        for target, written, line in _imports(module):
            other = _stage(target)
            if other is None:
                problems.append(f"{module}:{line} imports the top-level package ({written})")
            elif STAGES.index(other) > STAGES.index(stage):
                problems.append(f"{module}:{line} imports the later stage {other} ({written})")
            elif stage in SELF_CONTAINED and other != stage:
                problems.append(f"{module}:{line}: {stage} imports no other stage, but imports {written}")
    assert not problems, "\n".join(problems)


def test_no_import_cycle() -> None:
    graph = {m: {t for t, _, _ in _imports(m) if t != m} for m in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path[path.index(t) :], t]))
            if t not in state:
                visit(t, [*path, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_private_names_stay_in_their_subpackage() -> None:
    """A name or module starting with ``_`` is imported only from inside the package that holds it."""
    problems = []
    for module in MODULES:
        for _, written, line in _imports(module):
            parts = written.split(".")
            for i, part in enumerate(parts):
                if part.startswith("_") and not part.startswith("__"):
                    home = ".".join(parts[:i])
                    if not (module == home or module.startswith(home + ".")):
                        problems.append(f"{module}:{line} imports the private {written}")
                    break
    assert not problems, "\n".join(problems)


def _all_modules() -> list[types.ModuleType]:
    mods = [outcomes]
    for info in pkgutil.walk_packages(outcomes.__path__, prefix="outcomes."):
        mods.append(importlib.import_module(info.name))
    return mods


def test_public_names_do_not_shadow_modules() -> None:
    """``outcomes.X.y`` is the module ``y`` wherever ``y`` is a module, never a function of that name."""
    for mod in _all_modules():
        if not hasattr(mod, "__path__"):
            continue
        for info in pkgutil.iter_modules(mod.__path__):
            sub = importlib.import_module(f"{mod.__name__}.{info.name}")
            assert getattr(mod, info.name) is sub, f"{mod.__name__}.{info.name} is not the module {sub.__name__}"


def test_every_public_module_lists_its_names() -> None:
    for mod in _all_modules():
        name = mod.__name__
        if any(part.startswith("_") and part != "__init__" for part in name.split(".")):
            continue
        if name == "outcomes.present":  # holds modules only, imported by name
            continue
        assert hasattr(mod, "__all__"), f"{name} has no __all__"
        for public in mod.__all__:
            assert hasattr(mod, public), f"{name}.__all__ lists {public!r}, which it does not define"


def test_the_public_api() -> None:
    expected = {
        "BenchmarkResult",
        "benchmark",
        "benchmark_funnel",
        "ComparisonResult",
        "Dataset",
        "DatasetError",
        "DropoutResult",
        "FunnelResult",
        "LazyDataset",
        "SummaryResult",
        "TrajectoryModel",
        "TrajectoryResult",
        "compare",
        "documentation_check",
        "dropout_sensitivity",
        "episode_changes",
        "funnel",
        "read_dataset",
        "scan_dataset",
        "summarize",
        "trajectories",
        "trajectory_model",
    }
    assert set(outcomes.__all__) == expected
    assert callable(outcomes.funnel)
    assert callable(outcomes.documentation_check)


def test_importing_the_command_line_does_not_load_matplotlib() -> None:
    code = "import sys, outcomes.cli; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True, cwd=REPO).stdout
    files = []
    for name in listed.splitlines():
        path = REPO / name
        if path.suffix in {".py", ".md", ".json", ".csv", ".ipynb", ".toml", ".cfg", ".txt"} or path.name in {
            "Makefile",
            "run",
        }:
            files.append(path)
    return files


def test_nothing_cites_a_file_outside_the_repository() -> None:
    outside = re.compile(r"\.\./shared|shared[/]design|\.\./[A-Za-z_-]+/[\w.-]+\.md")
    problems = []
    for path in _tracked_text_files():
        if not path.is_file():
            continue  # deleted in the work tree
        for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if outside.search(line):
                problems.append(f"{path.relative_to(REPO)}:{i}: {line.strip()[:100]}")
    assert not problems, "\n".join(problems)


def test_cited_repository_files_exist() -> None:
    """Every ``docs/...`` or ``data_schemas/...`` path named in the code, notebooks and docs is there."""
    cited = re.compile(r"\b((?:docs|data_schemas)/[\w./-]*\w)")
    problems = []
    for path in _tracked_text_files():
        if not path.is_file() or path.suffix == ".csv":
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            for target in cited.findall(line):
                if "*" in target or target.endswith("/"):
                    continue
                if not (REPO / target).exists():
                    problems.append(f"{path.relative_to(REPO)}:{i} cites {target}, which does not exist")
    assert not problems, "\n".join(problems)
