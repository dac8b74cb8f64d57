"""The instrument as a user gets it: its wheel, installed into a project of their own.

The project has its own top-level ``app`` package (as FastAPI's full-stack template
lays it out) and runs its tests with pytest-asyncio. The wheel must hold only
``looplab``, install light, and leave the project's ``app`` the one that imports.
Installs come from the package index through uv (its cache makes reruns quick).
"""

import os
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest

from tests.utils.tools import required_tool

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_CORE = {
    "fastapi",
    "starlette",
    "uvicorn",
    "typer",
    "rich",
    "matplotlib",
    "locust",
    "httpx",
}


@pytest.fixture(scope="module", autouse=True)
def _uv() -> None:
    required_tool("uv", "the README's set-up installs it, and so does .ci/run")


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run("uv", "build", "--package", "looplab", "--wheel", "--out-dir", out, cwd=ROOT)
    (built,) = out.glob("looplab-*.whl")
    return built


def test_the_wheel_holds_looplab_only(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    assert {name.split("/")[0] for name in names} == {"looplab", metadata_name.split("/")[0]}
    assert "looplab/py.typed" in names
    assert not any(name.startswith(("app/", "tests/", "benchmarks/")) for name in names)
    core = {
        requirement.split(";")[0].split(">")[0].split("=")[0].split("[")[0].strip().lower()
        for requirement in metadata.get_all("Requires-Dist") or []
        if "extra ==" not in requirement
    }
    assert core == {"anyio", "hdrhistogram", "pydantic"}
    assert not core & FORBIDDEN_CORE
    assert set(metadata.get_all("Provides-Extra") or []) >= {"fastapi", "prometheus", "bench"}


USER_APP = """
from fastapi import FastAPI
from asyncio import sleep
import time

from looplab.monitor import instrument

WHO = "the user's own app"
app = FastAPI()


@app.get("/slow")
async def slow() -> dict[str, bool]:
    time.sleep(0.3)  # noqa: ASYNC251 (the blocking call the test must catch)
    return {"ok": True}


@app.get("/fine")
async def fine() -> dict[str, bool]:
    await sleep(0.3)
    return {"ok": True}


instrument(app, prefix="/_looplab")
"""

USER_TEST = """
import httpx
import pytest

import app
from app.main import app as user_app
from looplab.testing import assert_responsive, expect_blocking


def test_app_is_the_projects_own():
    assert app.WHO == "the user's own app"
    assert "site-packages" not in app.__file__


@pytest.mark.asyncio
async def test_slow_route_is_caught():
    transport = httpx.ASGITransport(app=user_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        async with expect_blocking(min_lag_ms=200, app=user_app) as lag:
            await client.get("/slow")
    assert lag.worst_stall is not None and lag.worst_stall.blame is not None
    assert lag.worst_stall.blame.file.endswith("main.py")


@pytest.mark.asyncio
async def test_fine_route_passes():
    transport = httpx.ASGITransport(app=user_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        async with assert_responsive(max_lag_ms=100, app=user_app):
            response = await client.get("/fine")
    assert response.status_code == 200


@pytest.mark.asyncio
async def test_the_monitor_routes_are_mounted():
    transport = httpx.ASGITransport(app=user_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/_looplab/ping")).json() == {"ok": True}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("user-project")
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text('WHO = "the user\'s own app"\n')
    (root / "app" / "main.py").write_text(textwrap.dedent(USER_APP))
    (root / "tests").mkdir()
    (root / "tests" / "test_user.py").write_text(textwrap.dedent(USER_TEST))
    (root / "pytest.ini").write_text("[pytest]\nasyncio_mode = strict\npythonpath = .\n")
    yield root


def _venv(root: Path, name: str) -> Path:
    _run("uv", "venv", "--quiet", "--python", sys.executable, root / name, cwd=root)
    return root / name / "bin" / "python"


def _check_imports(python: Path, project: Path) -> str:
    code = textwrap.dedent(
        """
        import sys, app
        assert app.WHO == "the user's own app", app.__file__
        import looplab, looplab.monitor
        from looplab.testing import assert_responsive
        heavy = {"httpx", "rich", "matplotlib", "typer"} & {m.split(".")[0] for m in sys.modules}
        assert not heavy, heavy
        try:
            from looplab.monitor import instrument
        except ImportError as exc:
            print("instrument:", exc)
        else:
            print("instrument: ok")
        """
    )
    return _run(python, "-c", code, cwd=project)


def test_core_install_keeps_the_projects_app(wheel: Path, project: Path) -> None:
    python = _venv(project, ".venv-core")
    _run("uv", "pip", "install", "--quiet", "--python", python, wheel, cwd=project)
    output = _check_imports(python, project)
    # Without the extra, instrument() says which extra to install.
    assert "instrument: " in output and "'fastapi' extra" in output, output
    installed = _run("uv", "pip", "list", "--python", python, cwd=project).lower()
    for heavy in FORBIDDEN_CORE:
        assert f"\n{heavy} " not in installed, heavy
    site = Path(
        _run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=project
        ).strip()
    )
    assert not (site / "app").exists()


def test_all_extras_under_pytest_asyncio(wheel: Path, project: Path) -> None:
    python = _venv(project, ".venv-all")
    requirement = f"looplab[fastapi,prometheus,bench] @ {wheel.as_uri()}"
    _run(
        "uv", "pip", "install", "--quiet", "--python", python,
        requirement, "pytest", "pytest-asyncio>=1", "httpx",
        cwd=project,
    )  # fmt: skip
    assert "instrument: ok" in _check_imports(python, project)
    output = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert "4 passed" in output, output
    help_text = _run(python.parent / "looplab", "--help", cwd=project)
    assert "bench" in help_text and "probe" in help_text
    assert "serve" not in help_text  # the lab's command comes with the lab only
    no_server = subprocess.run(
        [python.parent / "looplab", "bench"], cwd=project, capture_output=True, text=True
    )
    assert no_server.returncode == 2
    assert "--url" in no_server.stderr and "--app" in no_server.stderr
