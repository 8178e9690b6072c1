"""No import circle anywhere in `app/`: types point down.

The graph is read from the source with `ast`, nothing is imported. A module depends on
every module it imports, at the top of the file or inside a function: an import moved
into a function to dodge a circle still ties the two modules, so it still counts.
Imports under `if TYPE_CHECKING:` do not count in the graph of what runs: they never run.
They do count in the graph of types (`test_app_types_point_down`): a module that names a
type from a module importing it is half of a circle all the same (`graphql/sockets.py`
once named `KeyrackGraphQL` so, from the view that imports it, and the runtime graph
could not see it); a module names what it needs from above by a Protocol of its own.

`strawberry.lazy("app.graphql.x.types")` is not an import either, and does not count:
it is the sanctioned way for a child type to name its parent (a true back-reference,
see `app/graphql/reach.py`), resolved by strawberry when the schema is built; the type
it names for mypy comes through `reach` too, never by a TYPE_CHECKING import of the
parent. Anything else a child takes from its parent's module (a helper, a constant) is
an ordinary import and counts.

`from pkg import name` depends on `pkg.name` when that is a module, otherwise on `pkg`;
relative imports are resolved against the importing module's package. Importing
`a.b.c` is an edge to `a.b.c` alone, not to the packages `a` and `a.b` around it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Every module of `package` (a folder under `root`) by its dotted name."""
    modules: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST, *, types: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports under `node` at any depth; those under `if TYPE_CHECKING:` only with
    `types`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test) and not types:
            for statement in child.orelse:
                yield from _imports_of_statement(statement, types=types)
        else:
            yield from _imports(child, types=types)


def _imports_of_statement(
    statement: ast.stmt, *, types: bool
) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(statement, ast.Import | ast.ImportFrom):
        yield statement
    else:
        yield from _imports(statement, types=types)


def dependencies(
    name: str, path: Path, modules: Mapping[str, Path], *, types: bool = False
) -> set[str]:
    """The modules among `modules` that the module `name` at `path` imports (with `types`,
    also under `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in _imports(tree, types=types):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
            continue
        if node.level:
            base = name.split(".")
            if not is_package:
                base.pop()
            base = base[: len(base) - (node.level - 1)]
            target = ".".join([*base, node.module] if node.module else base)
        else:
            target = node.module or ""
        for alias in node.names:
            submodule = f"{target}.{alias.name}"
            if submodule in modules:
                found.add(submodule)
            elif target in modules:
                found.add(target)
    return found


def import_graph(root: Path, package: str, *, types: bool = False) -> dict[str, set[str]]:
    modules = module_names(root, package)
    return {name: dependencies(name, path, modules, types=types) for name, path in modules.items()}


def strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of `graph`, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def import_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The components that are a circle: more than one module, or one importing itself."""
    return sorted(
        component
        for component in strongly_connected(graph)
        if len(component) > 1 or component[0] in graph.get(component[0], ())
    )


def describe(cycles: list[list[str]], graph: Mapping[str, Iterable[str]]) -> str:
    lines = []
    for component in cycles:
        members = set(component)
        lines.append(f"circle of {len(component)}:")
        lines.extend(
            f"  {module} -> {target}"
            for module in component
            for target in sorted(graph[module])
            if target in members
        )
    return "\n".join(lines)


def test_app_has_no_import_cycle() -> None:
    # given
    graph = import_graph(ROOT, "app")

    # when
    cycles = import_cycles(graph)

    # then
    assert not cycles, "import circles in app/ (types point down):\n" + describe(cycles, graph)


def test_app_types_point_down() -> None:
    # given: the graph with the imports that only mypy reads
    graph = import_graph(ROOT, "app", types=True)

    # when
    cycles = import_cycles(graph)

    # then
    assert not cycles, (
        "circles of types in app/ (name what you need from above by a "
        "Protocol, or lazily):\n" + describe(cycles, graph)
    )


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_circle_through_a_function_local_import_is_found(tmp_path: Path) -> None:
    # given
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/parent.py": "from pkg.child import Child\n",
            "pkg/child.py": "def f():\n    from pkg import parent\n    return parent\n",
            "pkg/leaf.py": "import pkg.child\n",
        },
    )

    # when
    cycles = import_cycles(import_graph(tmp_path, "pkg"))

    # then
    assert cycles == [["pkg.child", "pkg.parent"]]


def test_relative_imports_and_self_imports_are_resolved(tmp_path: Path) -> None:
    # given
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from .sub import a\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/a.py": "from ..sub.b import x\n",
            "pkg/sub/b.py": "from . import a\n",
            "pkg/me.py": "import pkg.me\n",
        },
    )

    # when
    cycles = import_cycles(import_graph(tmp_path, "pkg"))

    # then
    assert cycles == [["pkg.me"], ["pkg.sub.a", "pkg.sub.b"]]


def test_type_checking_imports_and_lazy_annotations_are_no_edges(tmp_path: Path) -> None:
    # given
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/parent.py": "from pkg.child import Child\n",
            "pkg/child.py": (
                "from typing import TYPE_CHECKING, Annotated\n"
                "import strawberry\n"
                "if TYPE_CHECKING:\n"
                "    from pkg.parent import Parent\n"
                "else:\n"
                "    import pkg.leaf\n"
                "Up = Annotated['Parent', strawberry.lazy('pkg.parent')]\n"
            ),
            "pkg/leaf.py": "",
        },
    )

    # when
    graph = import_graph(tmp_path, "pkg")

    # then
    assert graph["pkg.child"] == {"pkg.leaf"}
    assert import_cycles(graph) == []


def test_a_circle_closed_by_a_type_checking_import_is_a_circle_of_types(tmp_path: Path) -> None:
    # given: the shape of graphql/view.py and graphql/sockets.py before they were untied
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/view.py": "from pkg.sockets import SubscriptionsOnly\n",
            "pkg/sockets.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from pkg.view import View\n"
            ),
        },
    )

    # when
    runs = import_cycles(import_graph(tmp_path, "pkg"))
    types = import_cycles(import_graph(tmp_path, "pkg", types=True))

    # then
    assert runs == []
    assert types == [["pkg.sockets", "pkg.view"]]
