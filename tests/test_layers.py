"""The layers of DESIGN.md, checked on the imports of the package itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import frontdesk

ROOT = Path(frontdesk.__file__).parent
#: package -> the frontdesk packages (and top-level modules) it may import.
ALLOWED: dict[str, set[str]] = {
    "domain": {"domain", "errors"},
    "tokens": {"tokens", "domain", "errors"},
    "protocol": {"protocol", "domain", "errors"},
    "store": {"store", "domain", "protocol", "errors", "config"},
    "client": {"client", "protocol", "domain", "errors"},
    "service_client": {"service_client", "protocol", "domain", "errors", "__version__"},
    "bus": {"bus", "domain", "protocol", "errors"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "frontdesk":  # from frontdesk import errors, __version__
                names = [f"frontdesk.{a.name}" for a in node.names]
            else:
                names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "frontdesk":
                found.add(parts[1] if len(parts) > 1 else "__init__")
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_layer_imports_only_what_it_may(package: str) -> None:
    wrong = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        extra = _imports(path) - ALLOWED[package]
        if extra:
            wrong[str(path.relative_to(ROOT))] = sorted(extra)
    assert wrong == {}, wrong


def test_neither_the_server_nor_the_app_sdk_imports_the_service_client() -> None:
    for package in ("server", "client"):
        for path in (ROOT / package).rglob("*.py"):
            assert "service_client" not in _imports(path), path


def test_the_cli_imports_no_http_routes() -> None:
    """Admin commands act through the services; the routes only translate HTTP."""
    for path in sorted((ROOT / "cli").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for module in modules:
                last = module.split(".")[-1]
                assert not (last.startswith("routes_") or last == "rtc"), (path, module)
