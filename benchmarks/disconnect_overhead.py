"""What the lab's stop-on-disconnect middleware costs per request, measured in process.

    uv run python benchmarks/disconnect_overhead.py [--requests 3000] [--rounds 5]

Calls a cheap lab route (``/lab/cpu/inline?cpu_ms=0``) straight through the ASGI
interface, with and without ``StopOnDisconnect``, in alternating rounds; prints the
microseconds per request of each and their ratio (median of the rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from starlette.types import Message

from app.disconnect import StopOnDisconnect
from app.main import create_app


async def _per_request_us(app: object, requests: int) -> float:
    scope = {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/lab/cpu/inline", "raw_path": b"/lab/cpu/inline", "root_path": "",
        "query_string": b"cpu_ms=0", "headers": [(b"host", b"lab")],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip

    async def send(message: Message) -> None:
        pass

    never = asyncio.Event()

    def receiver() -> Callable[[], Awaitable[Message]]:
        # As a server does: the request once, then nothing until the client leaves.
        messages: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> Message:
            if messages:
                return messages.pop()
            await never.wait()
            raise AssertionError("unreachable")

        return receive

    started = time.perf_counter()
    for _ in range(requests):
        await app(scope, receiver(), send)  # type: ignore[operator]
    return (time.perf_counter() - started) / requests * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with_it = create_app()
    without = create_app()
    without.user_middleware = [m for m in without.user_middleware if m.cls is not StopOnDisconnect]
    async with with_it.router.lifespan_context(with_it), without.router.lifespan_context(without):
        for app in (with_it, without):  # build the middleware stacks, warm up
            await _per_request_us(app, 200)
        ratios, on, off = [], [], []
        for _ in range(args.rounds):
            on.append(await _per_request_us(with_it, args.requests))
            off.append(await _per_request_us(without, args.requests))
            ratios.append(on[-1] / off[-1])
    print(
        f"per request: with the middleware {statistics.median(on):.1f} µs, without "
        f"{statistics.median(off):.1f} µs; ratio {statistics.median(ratios):.3f} "
        f"(median of {args.rounds} alternating rounds of {args.requests})"
    )


if __name__ == "__main__":
    asyncio.run(main())
