"""A user's own app: no catalogue, looplab mounted under a prefix of its choosing."""

from fastapi import FastAPI

from looplab.monitor import instrument

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


instrument(app, prefix="/_looplab", metrics=False)
