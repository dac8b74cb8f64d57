"""A server whose one catalogue entry always answers 500: locust must exit 1 against it.

``/lab`` has the lab's shape and ``/ping`` answers, so every failure locust
counts comes from the entry itself.
"""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from looplab.protocol import CatalogueEntry, ParamSpec

BROKEN_ENTRY = CatalogueEntry(
    id="broken.always",
    family="broken",
    approach="always",
    path="/broken",
    expect="responsive",
    summary="Always fails.",
    lesson="A failed request must fail the locust run.",
    params={"n": ParamSpec(default=1, min=1, max=9)},
    workload={"n": 1},
)


async def lab(request: Request) -> JSONResponse:
    return JSONResponse([BROKEN_ENTRY.model_dump(mode="json")])


async def ping(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def broken(request: Request) -> PlainTextResponse:
    return PlainTextResponse("broken on purpose", status_code=500)


app = Starlette(
    routes=[Route("/lab", lab), Route("/ping", ping), Route("/broken", broken)],
)
