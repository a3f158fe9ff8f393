"""The layering rule, read from the code's own imports (ast): the faces reach use cases only through services.

A face is a module of ``gridmap.cli`` or ``gridmap.portal``. It may import ``gridmap.services``,
its own face package, and the core that every layer shares (types, settings, errors, codes, the
layer schema, CRS helpers). Anything else (a domain package such as ``gridmap.incidents`` or
``gridmap.partition``, or a store backend) must be reached through a service, so that a CLI
command and a page doing the same thing run the same code. The few exceptions kept are listed in
``EXCEPTIONS`` with the reason; a new direct import fails this test and names the module and line.

Also checked: the core never imports Flask or click, and domain packages never import the faces.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "gridmap"
FACES = ("gridmap.cli", "gridmap.portal")
#: The core every layer may import (bottom of the picture in docs/architecture.md).
CORE = (
    "gridmap.model", "gridmap.config", "gridmap.errors", "gridmap.codes", "gridmap.schema", "gridmap.crs",
    "gridmap.auth.principal",  # Principal: who is calling and what they may see, a value type every layer passes
)  # fmt: skip
#: Direct imports a face keeps, and why: (module prefix of the face, the exact module it imports).
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("gridmap.cli", "gridmap.store"): "the composition root: commands open the store (gridmap.store's face: "
    "Store, open_store) and hand it to services; no face imports a backend module",
    ("gridmap.portal", "gridmap.store"): "create_app and serve open the store once per app (composition root); "
    "blueprints use the Store protocol type in signatures",
    ("gridmap.portal.maps.assets", "gridmap"): "the installed package's path, to find the web/ assets",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import of the file, also inside functions."""
    return _imports_of_source(_module_name(path), path.read_text(encoding="utf-8"), path.name == "__init__.py")


def _imports_of_source(name: str, source: str, is_package: bool) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from gridmap import schema`` imports the module gridmap.schema; ``from x import Name`` imports x.
            found.extend((node.lineno, f"{target}.{a.name}" if _is_module(f"{target}.{a.name}") else target)
                         for a in node.names)  # fmt: skip
    return found


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _violations_of(name: str, imports: list[tuple[int, str]]) -> list[str]:
    """The imports of face module ``name`` that break the rule, as ``module:line imports target``."""
    bad: list[str] = []
    for line, target in imports:
        if not target.startswith("gridmap"):
            continue
        if any(_under(target, p) for p in ("gridmap.services", *FACES, *CORE)):
            continue
        if any(_under(name, face) and target == dep for face, dep in EXCEPTIONS):
            continue
        if f"{name}:{line} imports {target}" not in bad:
            bad.append(f"{name}:{line} imports {target}")
    return bad


def _face_violations() -> list[str]:
    bad = []
    for path in _modules():
        name = _module_name(path)
        if any(_under(name, f) for f in FACES):
            bad += _violations_of(name, _imports(path))
    return bad


def test_faces_reach_the_domain_only_through_services() -> None:
    bad = _face_violations()
    assert not bad, "CLI/portal modules importing past gridmap.services:\n" + "\n".join(bad)


def test_every_exception_is_still_needed() -> None:
    """An exception nobody uses any more is removed, so the list stays the truth."""
    used = set()
    for path in _modules():
        name = _module_name(path)
        for _, target in _imports(path):
            for face, dep in EXCEPTIONS:
                if _under(name, face) and target == dep and not any(
                    _under(target, p) for p in ("gridmap.services", *FACES, *CORE)
                ):
                    used.add((face, dep))
    assert set(EXCEPTIONS) - used == set()


@pytest.mark.parametrize("framework", ["flask", "click"])
def test_no_core_or_domain_module_imports_a_web_or_cli_framework(framework: str) -> None:
    bad = []
    for path in _modules():
        name = _module_name(path)
        if any(_under(name, f) for f in FACES):
            continue
        bad += [f"{_module_name(path)}:{line}" for line, t in _imports(path) if _under(t, framework)]
    assert not bad, f"{framework} imported outside the faces: {bad}"


def test_domain_and_services_never_import_the_faces() -> None:
    bad = []
    for path in _modules():
        name = _module_name(path)
        if any(_under(name, f) for f in FACES):
            continue
        bad += [f"{name}:{line} -> {t}" for line, t in _imports(path) if any(_under(t, f) for f in FACES)]
    assert not bad, bad


def test_the_rule_catches_a_direct_import() -> None:
    """The walker itself: direct and relative domain imports are reported with their line."""
    source = (
        "import os\nfrom gridmap.services import incidents\n\n"
        "def f():\n    from gridmap.incidents.workflow import Status\n"
    )
    assert _violations_of("gridmap.portal.probe", _imports_of_source("gridmap.portal.probe", source, False)) == [
        "gridmap.portal.probe:5 imports gridmap.incidents.workflow"
    ]
    relative = "from ...tracking import writer\n"
    found = _imports_of_source("gridmap.portal.tracking.probe", relative, False)
    assert _violations_of("gridmap.portal.tracking.probe", found) == [
        "gridmap.portal.tracking.probe:1 imports gridmap.tracking.writer"
    ]
    assert _violations_of("gridmap.cli.probe", [(1, "gridmap.store")]) == []  # the package face: an exception
    for face in ("gridmap.cli.probe", "gridmap.portal.probe"):  # a backend module is never an exception
        assert _violations_of(face, [(1, "gridmap.store.gpkg")]) == [f"{face}:1 imports gridmap.store.gpkg"]


#: Packages above the services layer besides the faces: they drive use cases, like the CLI does.
SERVICE_CLIENTS = {"gridmap.demo": "builds the demo district and the city by running the partition service"}


def test_domain_and_core_never_import_services() -> None:
    """Services sit above the domain: a domain module importing a service makes a cycle of layers."""
    bad = []
    for path in _modules():
        name = _module_name(path)
        if any(_under(name, p) for p in ("gridmap.services", *FACES, *SERVICE_CLIENTS)):
            continue
        bad += [f"{name}:{line} -> {t}" for line, t in _imports(path) if _under(t, "gridmap.services")]
    assert not bad, bad
