"""Blame and route attribution: which frame is the user's, which route was being served."""

import os
import sys
import sysconfig
import time

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from looplab.monitor._frames import blame_of, is_user_file, route_of, route_paths, walk_stack
from looplab.testing import measure_lag

inner = APIRouter(prefix="/inner")


@inner.get("/block")
async def block_in_included_router() -> dict[str, bool]:
    """Block the loop from a route of a router included twice over."""
    time.sleep(0.12)  # noqa: ASYNC251 (the block under test)
    return {"ok": True}


outer = APIRouter(prefix="/outer")
outer.include_router(inner, prefix="/mid")
nested_app = FastAPI()
nested_app.include_router(outer, prefix="/top")


async def starlette_endpoint(request: object) -> PlainTextResponse:
    return PlainTextResponse("x")


def test_route_paths_walk_included_routers_and_mounts() -> None:
    paths = route_paths(nested_app)
    assert paths[block_in_included_router.__code__] == "/top/outer/mid/inner/block"
    starlette_app = Starlette(routes=[Mount("/sub", routes=[Route("/leaf", starlette_endpoint)])])
    assert route_paths(starlette_app) == {starlette_endpoint.__code__: "/sub/leaf"}


@pytest.mark.anyio
@pytest.mark.timing
async def test_stall_in_an_included_router_names_its_full_route() -> None:
    transport = httpx.ASGITransport(app=nested_app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        measure_lag(app=nested_app) as lag,
    ):
        await client.get("/top/outer/mid/inner/block")
    assert lag.worst_stall is not None
    assert lag.worst_stall.route == "/top/outer/mid/inner/block"
    assert lag.worst_stall.blame is not None
    assert lag.worst_stall.blame.function == "block_in_included_router"


def test_user_files_exclude_stdlib_site_packages_and_looplab() -> None:
    import asyncio

    import fastapi

    import looplab.monitor

    assert is_user_file(__file__)
    assert not is_user_file(asyncio.__file__)
    assert not is_user_file(fastapi.__file__)
    assert not is_user_file(looplab.monitor.__file__)
    assert not is_user_file("<frozen importlib._bootstrap>")
    # The console script that started the server (`looplab serve`) sits under every stack.
    assert not is_user_file(os.path.join(sysconfig.get_paths()["scripts"], "looplab"))


def test_blame_is_the_innermost_user_frame() -> None:
    stack = walk_stack(sys._getframe())
    blame = blame_of(stack, is_user_file)
    assert blame is not None
    assert blame.function == "test_blame_is_the_innermost_user_frame"
    assert blame.file == __file__
    assert blame_of(stack, lambda file: False) is None
    assert route_of(stack, {}) is None
    code = test_blame_is_the_innermost_user_frame.__code__
    assert route_of(stack, {code: "/here"}) == "/here"
