"""Collects the routers of every family into one."""

from fastapi import APIRouter

from app.api.routes import (
    cpu,
    db,
    http,
    image,
    lab,
    produce,
    produce_stream,
    read,
    story,
    stream,
)

api_router = APIRouter()
api_router.include_router(story.router)
api_router.include_router(image.router)
api_router.include_router(lab.router)
api_router.include_router(read.router)
api_router.include_router(stream.router)
api_router.include_router(produce.router)
api_router.include_router(produce_stream.router)
api_router.include_router(cpu.router)
api_router.include_router(http.router)
api_router.include_router(db.router)
