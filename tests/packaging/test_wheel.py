"""Packaging: the sdist and the wheel build, carry the web pages, the browser SDK
and the migrations, and a wheel installed in a fresh virtual environment outside
the repository serves them with ``frontdesk serve``.

The build is the standard one (setuptools from the package index in a throwaway
environment, as a PEP 517 front end does; the wheel is built from the sdist, so
the sdist is proven complete). The fresh environment gets the wheel with
``pip install --no-deps``; its dependencies come from this test environment
through a path entry, so the test needs no network beyond the build back end,
while everything of Frontdesk itself comes from the wheel.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tarfile
import time
import zipfile
from pathlib import Path

import httpx
import pytest

import frontdesk
from frontdesk.server.routes_web import SDK_MODULES
from tests.support.live_server import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 300
MUST_SHIP = [
    "frontdesk/server/static/index.html",
    "frontdesk/server/static/console.html",
    "frontdesk/server/static/guest.html",
    "frontdesk/server/static/favicon.ico",
    "frontdesk/server/static/css/frontdesk.css",
    "frontdesk/server/static/js/console.js",
    "frontdesk/server/static/sdk/frontdesk.d.ts",
    "frontdesk/server/static/sdk/package.json",
    *(f"frontdesk/server/static/sdk/{name}" for name in SDK_MODULES),
    "frontdesk/store/migrations/env.py",
    "frontdesk/store/migrations/versions/0001_initial.py",
    "frontdesk/py.typed",
]


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _clean_env() -> dict[str, str]:
    drop = ("PYTHONPATH", "COVERAGE_PROCESS_START", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("FRONTDESK_")}


def _pip(target_python: Path, *args: str, cwd: Path) -> str:
    """pip of this environment, installing into ``target_python``'s."""
    return _run(
        [sys.executable, "-m", "pip", "--python", str(target_python), "install", "-q",
         "--disable-pip-version-check", *args],
        cwd, _clean_env(),
    )  # fmt: skip


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``dist/`` with the sdist and the wheel built from it."""
    work = tmp_path_factory.mktemp("build")
    # The source as git would ship it (tracked and new files, nothing ignored).
    listed = _run(["git", "ls-files", "-co", "--exclude-standard", "-z"], ROOT).split("\0")
    src = work / "src-tree"
    for name in filter(None, listed):
        path = ROOT / name
        if path.is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, src / name)
    backend = work / "backend"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(backend)], check=True)
    backend_py = backend / "bin" / "python"
    _pip(backend_py, "setuptools>=77", cwd=work)
    out = work / "dist"
    out.mkdir()
    _run(
        [str(backend_py), "-c",
         f"from setuptools import build_meta as b; print(b.build_sdist({str(out)!r}))"],
        src, _clean_env(),
    )  # fmt: skip
    [sdist] = out.glob("frontdesk-*.tar.gz")
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(sdist)],
        work, _clean_env(),
    )  # fmt: skip
    return out


def test_sdist_and_wheel_carry_pages_sdk_and_migrations(dist: Path) -> None:
    [sdist] = dist.glob(f"frontdesk-{frontdesk.__version__}.tar.gz")
    [wheel] = dist.glob(f"frontdesk-{frontdesk.__version__}-py3-none-any.whl")
    with tarfile.open(sdist) as tar:
        in_sdist = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    with zipfile.ZipFile(wheel) as whl:
        in_wheel = set(whl.namelist())
        metadata = whl.read(f"frontdesk-{frontdesk.__version__}.dist-info/METADATA").decode()
    for name in MUST_SHIP:
        assert f"src/{name}" in in_sdist, name
        assert name in in_wheel, name
    for name in ("README.md", "Makefile", "docs/quickstart.md", "tests/packaging/test_wheel.py"):
        assert name in in_sdist, name
    assert not any("node_modules" in n or "__pycache__" in n for n in in_wheel)
    assert "License-Expression: Apache-2.0" in metadata
    assert "Requires-Dist: fastapi" in metadata and "Provides-Extra: media" in metadata


def test_a_wheel_installed_outside_the_repo_serves(dist: Path, tmp_path: Path) -> None:
    [wheel] = dist.glob("frontdesk-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(
        _run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path
        ).strip()
    )
    # Dependencies from this environment, after the venv's own site-packages.
    (site / "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _pip(py, "--no-deps", "--no-index", str(wheel), cwd=tmp_path)
    env = _clean_env()
    where = _run([str(py), "-c", "import frontdesk; print(frontdesk.__file__)"], tmp_path, env)
    assert where.strip().startswith(str(site)), where  # the wheel's copy, not the checkout's
    exe = venv / "bin" / "frontdesk"
    version = _run([str(exe), "--version"], tmp_path, env)
    assert version.strip() == f"frontdesk {frontdesk.__version__}"

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(exe), "serve", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120  # a busy machine starts slowly
            while True:
                assert proc.poll() is None, log.read_text()
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            for path, kind in [
                ("/", "text/html"),
                ("/console", "text/html"),
                ("/j/some-code", "text/html"),
                ("/favicon.ico", "image/x-icon"),
                ("/static/css/frontdesk.css", "text/css"),
                *((f"/sdk/{name}", "text/javascript") for name in sorted(SDK_MODULES)),
            ]:
                r = httpx.get(base + path, timeout=5)
                assert r.status_code == 200 and r.headers["content-type"].startswith(kind), path
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    # Migrated from the wheel's scripts, under ./var/ of the working directory.
    assert (tmp_path / "var" / "frontdesk.db").is_file(), log.read_text()
    assert "database schema at head" in log.read_text()
