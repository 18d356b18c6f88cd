"""The SDK (smmpanel.client) is a library of its own, behind one adapter.

Only smmpanel/providers/sdk_adapter.py (and the SDK's own package, which holds
the `smm` command line too) may import smmpanel.client; the SDK imports
nothing else of the panel.  Read from the source with `ast`, so that an
import inside a function counts too."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import smmpanel

PANEL = Path(smmpanel.__file__).parent
CLIENT = PANEL / "client"
ADAPTER = PANEL / "providers" / "sdk_adapter.py"


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts and parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = PANEL.parent) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the file; `root` holds
    the top package (relative imports are resolved from the file's package)."""
    package = _module_name(path if path.name == "__init__.py" else path.parent, root)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:  # `from smmpanel import client`
                yield node.lineno, f"{base}.{alias.name}"


def _is_client(module: str) -> bool:
    return module == "smmpanel.client" or module.startswith("smmpanel.client.")


def test_only_the_adapter_imports_the_sdk() -> None:
    offenders = [
        f"{path.relative_to(PANEL)}:{line}: {module}"
        for path in sorted(PANEL.rglob("*.py"))
        if CLIENT not in path.parents and path != ADAPTER
        for line, module in imported_modules(path)
        if _is_client(module)
    ]
    assert offenders == []


def test_the_sdk_imports_nothing_else_of_the_panel() -> None:
    offenders = [
        f"{path.relative_to(PANEL)}:{line}: {module}"
        for path in sorted(CLIENT.rglob("*.py"))
        for line, module in imported_modules(path)
        if module.startswith("smmpanel.") and not _is_client(module)
    ]
    assert offenders == []


def test_the_walker_sees_every_form_of_import(tmp_path: Path) -> None:
    sample = tmp_path / "smmpanel" / "providers" / "sample.py"
    sample.parent.mkdir(parents=True)
    sample.write_text(
        "from smmpanel import client\n"
        "from ..client import Client\n"
        "def later():\n"
        "    import smmpanel.client.sync\n"
        "from . import gateway\n"
    )
    found = [line for line, module in imported_modules(sample, tmp_path) if _is_client(module)]
    assert sorted(set(found)) == [1, 2, 4]
