"""Collects the routers of every family into one."""

from fastapi import APIRouter

from app.api.routes import image, story

api_router = APIRouter()
api_router.include_router(story.router)
api_router.include_router(image.router)
