"""The instrument's public surface is explicit, as AnyIO's and trio's are.

Every public module declares ``__all__``; each name in it exists and is
listed once; every module that is not in the list below is private (its name
starts with ``_``). ``import looplab`` and the modules the pytest plugin pulls
in stay within the core dependencies.
"""

import importlib
import pkgutil
import subprocess
import sys

import pytest

import looplab

PUBLIC = [
    "looplab",
    "looplab.bench",
    "looplab.cli",
    "looplab.monitor",
    "looplab.protocol",
    "looplab.pytest_plugin",
    "looplab.testing",
    "looplab.verdict",
]


def _all_modules() -> list[str]:
    modules = ["looplab"]
    for info in pkgutil.walk_packages(looplab.__path__, "looplab."):
        modules.append(info.name)
    return modules


@pytest.mark.parametrize("name", PUBLIC)
def test_public_module_exports_real_names_once(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported, f"{name}.__all__ is empty"
    assert len(exported) == len(set(exported)), f"{name}.__all__ lists a name twice"
    missing = [attr for attr in exported if not hasattr(module, attr)]
    assert not missing, f"{name}.__all__ names what it does not have: {missing}"


def test_every_other_module_is_private() -> None:
    public = set(PUBLIC)
    for name in _all_modules():
        if name in public:
            continue
        parts = name.split(".")
        assert any(part.startswith("_") for part in parts[1:]), (
            f"{name} is neither listed as public nor private (leading underscore)"
        )


def _imported_by(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return {module.split(".")[0] for module in output.split()}


HEAVY = {"httpx", "rich", "matplotlib", "typer", "uvicorn", "locust"}
OUTSIDE_CORE = HEAVY | {"fastapi", "starlette", "prometheus_client"}


@pytest.mark.parametrize(
    "statement",
    [
        "import looplab",
        "import looplab.monitor",
        "import looplab.testing",
        "import looplab.pytest_plugin",
        "import looplab.protocol",
        "from looplab import assert_responsive, measure_lag",
    ],
)
def test_core_imports_stay_in_the_core(statement: str) -> None:
    # The pytest plugin loads wherever looplab is installed: it must not need an extra.
    assert not _imported_by(statement) & OUTSIDE_CORE


def test_lazy_names_resolve() -> None:
    from looplab.monitor import instrument as from_monitor
    from looplab.testing import assert_responsive as from_testing

    assert looplab.instrument is from_monitor
    assert looplab.assert_responsive is from_testing
    with pytest.raises(AttributeError):
        _ = looplab.no_such_name
