"""The server package's layering, checked: no import circles, and each layer imports only
what it may (docs/architecture.md). Read from the source with ``ast``, so an import that runs
the wrong way fails here, in CI, before anyone has to untangle it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import wirechat_server
from tests.support.imports import modules_loaded_after

PACKAGE = Path(wirechat_server.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> Iterator[str]:
    """Every wirechat_server module ``path`` imports, TYPE_CHECKING imports included: a circle
    through annotations is still a circle in the design."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.startswith("wirechat_server"):
                # "from . import x" and "from .pkg import module" name modules too.
                for alias in node.names:
                    candidate = f"{target}.{alias.name}"
                    yield candidate if candidate in MODULES else target
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("wirechat_server"):
                    yield alias.name


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}
GRAPH = {
    name: {target for target in imported(path) if target != name and target in MODULES}
    for name, path in MODULES.items()
}


def test_the_graph_sees_the_packages_imports() -> None:
    """Not blind: known edges are found, relative ones included."""
    assert "wirechat_server.connection" in GRAPH["wirechat_server.server"]
    assert "wirechat_server.dialects.native" in GRAPH["wirechat_server.dialects.detect"]
    assert "wirechat_server.config" in GRAPH["wirechat_server.dialects.plain"]


def test_no_import_circles() -> None:
    # Tarjan's strongly connected components: any component of more than one module is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    assert circles == []


#: Which modules of the package each layer may import (beyond wirechat_common and the standard
#: library). A prefix ending in "." allows a whole subpackage.
ALLOWED = {
    # A transport moves bytes and knows nothing of chat.
    "wirechat_server.transports.": {"wirechat_server.transports."},
    # A dialect is a translator: it depends on interfaces and settings, never on the
    # connection, the server, the core or a transport.
    "wirechat_server.dialects.": {
        "wirechat_server.dialects.",
        "wirechat_server.config",
        "wirechat_server.bus",  # the WireFormat interface
    },
    # The core has no I/O: interfaces, in-process versions of the bus, presence and
    # identities, and the store's vocabulary; never the store, a connection or the server.
    "wirechat_server.core.": {
        "wirechat_server.core.",
        "wirechat_server.bus",
        "wirechat_server.fanout",
        "wirechat_server.identity",
        "wirechat_server.presence",
        "wirechat_server.sessions",
        "wirechat_server.storage.log",
        "wirechat_server.storage.model",
    },
    # Interfaces import no implementation.
    "wirechat_server.bus": set(),
    "wirechat_server.storage.log": {"wirechat_server.storage.model"},
    "wirechat_server.storage.model": set(),
    "wirechat_server.identity": set(),
    "wirechat_server.presence": {"wirechat_server.identity"},
    # Fan-out writes to members it knows only by an interface.
    "wirechat_server.fanout": {"wirechat_server.bus"},
}


#: What importing the core must not load: the core runs on plain data and callbacks.
IO_MODULES = ("asyncio", "socket", "sqlite3", "threading", "selectors", "concurrent.futures")


def test_importing_the_core_loads_no_event_loop_socket_thread_or_database() -> None:
    statement = "import wirechat_server.core, wirechat_server.dialects.detect"
    assert modules_loaded_after(statement, IO_MODULES) == set()


def test_the_import_check_can_see_a_loaded_module() -> None:
    assert modules_loaded_after("import wirechat_server.server", IO_MODULES) >= {"asyncio"}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_what_it_may(layer: str) -> None:
    allowed = ALLOWED[layer]
    wrong = {
        (name, target)
        for name, targets in GRAPH.items()
        if name == layer or name.startswith(layer)
        for target in targets
        if not any(target == a or (a.endswith(".") and target.startswith(a)) for a in allowed)
    }
    assert wrong == set()
