"""Hello, kettle: routes, a router, middleware, hooks, error pages and url_for on one screen.

From the repository root, run it with either of:

    kettle run examples.hello.app:app
    python examples/hello/app.py

then open http://127.0.0.1:8000/.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any

from kettle import JSONResponse, Kettle, Request, Response, Router, abort, url_for

CallNext = Callable[[Request], Awaitable[Response]]

# kettle reads its settings from KETTLE_* environment variables, the secret key included
# (KETTLE_SECRET_KEY). Without a key this example turns on debug mode, where kettle makes up
# a throwaway key (and warns that it did) and shows tracebacks on error pages: fine on your
# laptop, never in production. Without debug mode, a missing key stops the app at startup.
has_secret_key = bool(os.environ.get("KETTLE_SECRET_KEY"))
app = Kettle(__name__) if has_secret_key else Kettle(__name__, debug=True)

USERS: dict[int, dict[str, Any]] = {1: {"id": 1, "name": "Ada"}, 2: {"id": 2, "name": "Grace"}}


@app.use  # app-wide middleware: it wraps every request, 404s included
async def timing(req: Request, call_next: CallNext) -> Response:
    start = time.perf_counter()
    response = await call_next(req)
    response.headers["server-timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.2f}"
    response.headers["x-request-id"] = req.state.get("request_id", "-")
    return response


@app.before_request  # runs before every handler; returning a response would answer instead
def tag_request(req: Request) -> None:
    req.state.request_id = req.headers.get("x-request-id") or uuid.uuid4().hex[:12]


@app.get("/")
def index(req: Request) -> str:  # a plain def runs in a worker thread: it never blocks
    name = req.query.get("name", "world")
    return (
        f"<h1>Hello, {escape(name)}!</h1>"
        f'<p><a href="{url_for("hello", name="kettle")}">Say hello as JSON</a> · '
        f'<a href="{url_for("show_user", id=1)}">User 1</a></p>'
    )


@app.get("/hello/<name>")
async def hello(req: Request, name: str) -> dict[str, str]:  # a dict becomes JSON
    return {"message": f"Hello, {name}!"}


@app.get("/users/<int:id>")
async def show_user(req: Request, id: int) -> dict[str, Any]:
    user = USERS.get(id) or abort(404)
    return user


@app.post("/users")
async def create_user(req: Request) -> tuple[dict[str, Any], int, dict[str, str]]:
    data = await req.json()  # 415 unless the body is JSON, 400 if it is malformed
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name.strip():
        abort(422, "a user needs a non-empty 'name'")
    new_id = max(USERS, default=0) + 1
    USERS[new_id] = user = {"id": new_id, "name": name.strip()}
    return user, 201, {"location": url_for("show_user", id=new_id)}


@app.errorhandler(404)  # for unknown paths and abort(404) alike
def not_found(req: Request, exc: Exception) -> tuple[str, int]:
    return f'<h1>Not found</h1><p>Nothing at {escape(req.path)}. <a href="/">Home</a></p>', 404


# A Router groups routes with their own middleware; mounted at /api below. Its routes
# are named "api.<function>" for url_for.
api = Router(name="api")
API_TOKEN = os.environ.get("HELLO_API_TOKEN", "let-me-in")


@api.use  # only for the router's routes
async def require_token(req: Request, call_next: CallNext) -> Response:
    if req.headers.get("authorization") != f"Bearer {API_TOKEN}":
        return JSONResponse({"error": "send Authorization: Bearer <token>"}, 401)
    return await call_next(req)


@api.get("/users")
async def list_users(req: Request) -> dict[str, Any]:
    return {"users": list(USERS.values()), "self": url_for("api.list_users")}


app.mount("/api", api)


if __name__ == "__main__":
    app.run(port=int(os.environ.get("PORT", "8000")))
