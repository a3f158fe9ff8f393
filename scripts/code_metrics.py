"""Size and dependency numbers of the gridmap package, measured from the code itself (issue 13).

    .venv/bin/python scripts/code_metrics.py            # a table
    .venv/bin/python scripts/code_metrics.py --json     # the same as JSON

Reports module length (non-blank lines), function length (lines from ``def`` to the last line of
the body), the import cycles between gridmap modules (strongly connected components of the module
import graph, imports inside functions included), and the face-to-domain imports: imports from
``gridmap.cli`` or ``gridmap.portal`` of a gridmap module that is neither a service nor one of
the core modules the faces may use (see tests/test_layering.py for the rule).
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
from pathlib import Path

ROOT = Path(__file__).parents[1] / "gridmap"
#: What a face (cli/, portal/) may import besides gridmap.services and itself.
FACE_ALLOWED = ("gridmap.services", "gridmap.errors", "gridmap.config", "gridmap.model", "gridmap.codes",
                "gridmap.schema", "gridmap.cli", "gridmap.portal")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("gridmap"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("gridmap"):
                found.update(f"{target}.{a.name}" for a in node.names)  # a submodule, or trimmed to its module
    return found


def load() -> tuple[dict[str, ast.AST], dict[str, int], dict[str, bool]]:
    trees, lengths, packages = {}, {}, {}
    for path in sorted(ROOT.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = module_name(path)
        trees[name] = ast.parse(text)
        lengths[name] = sum(1 for line in text.splitlines() if line.strip())
        packages[name] = path.name == "__init__.py"
    return trees, lengths, packages


def graph(trees: dict[str, ast.AST], packages: dict[str, bool]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for name, tree in trees.items():
        targets = set()
        for target in imports_of(tree, name, packages[name]):
            while target and target not in trees:
                target = target.rpartition(".")[0]
            if target and target != name:
                targets.add(target)
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found, key=len, reverse=True)


def function_lengths(trees: dict[str, ast.AST]) -> list[tuple[int, str]]:
    out = []
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno is not None:
                out.append((node.end_lineno - node.lineno + 1, f"{name}.{node.name}"))
    return out


def face_to_domain(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    faces = [m for m in edges if m.startswith(("gridmap.cli", "gridmap.portal"))]
    return sorted((m, t) for m in faces for t in edges[m]
                  if not any(t == a or t.startswith(a + ".") for a in FACE_ALLOWED))  # fmt: skip


def p90(values: list[int]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--list", action="store_true", help="also list cycles, long functions and face imports")
    args = parser.parse_args()
    trees, lengths, packages = load()
    edges = graph(trees, packages)
    funcs = function_lengths(trees)
    found = cycles(edges)
    faces = face_to_domain(edges)
    result = {
        "modules": len(lengths), "lines": sum(lengths.values()),
        "module_lines_median": statistics.median(lengths.values()), "module_lines_p90": p90(list(lengths.values())),
        "modules_over_400": sum(v > 400 for v in lengths.values()),
        "functions": len(funcs), "function_lines_median": statistics.median(n for n, _ in funcs),
        "function_lines_p90": p90([n for n, _ in funcs]), "functions_over_60": sum(n > 60 for n, _ in funcs),
        "import_cycles": len(found), "modules_in_cycles": sum(len(c) for c in found),
        "face_to_domain_imports": len(faces),
    }  # fmt: skip
    if args.json:
        print(json.dumps({**result, **({"cycles": found, "faces": faces} if args.list else {})}, indent=2))
        return
    for key, value in result.items():
        print(f"{key:26} {value}")
    if args.list:
        for component in found:
            print("cycle:", " ".join(component))
        for length, name in sorted(funcs, reverse=True)[:20]:
            print(f"long function: {length:4} {name}")
        for module, target in faces:
            print(f"face import: {module} -> {target}")


if __name__ == "__main__":
    main()
