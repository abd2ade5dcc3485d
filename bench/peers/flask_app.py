"""Flask as its users deploy it: gunicorn sync workers (or granian's WSGI), psycopg.

The middleware scenario is a blueprint with ten no-op ``before_request`` hooks (Flask
has no per-router ``use()``); secure track: Helmet's header set from an
``after_request`` hook, the usual Flask way of adding headers to every response.
"""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, render_template

from bench.peers import _common as c
from bench.peers import _sync_db

app = Flask(__name__, template_folder=str(c.TEMPLATES))


@app.get("/plaintext")
def plaintext() -> Response:
    return Response(c.MESSAGE, mimetype="text/plain")


@app.get("/json")
def json() -> dict[str, str]:
    return {"message": c.MESSAGE}


def user(id: int) -> dict[str, int]:
    return {"id": id}


app.add_url_rule("/users/<int:id>", "user", user)


@app.get("/db")
def db() -> dict[str, int]:
    return _sync_db.world()


@app.get("/fortunes")
def fortunes() -> str:
    return render_template(c.FORTUNES_TEMPLATE, fortunes=_sync_db.fortunes())


@app.get("/io")
def io_wait() -> Response:
    time.sleep(c.IO_WAIT)
    return Response(c.MESSAGE, mimetype="text/plain")


def noop() -> None:
    return None


deep = Blueprint("deep", __name__)
for _ in range(c.MIDDLEWARE_DEPTH):
    deep.before_request(noop)
deep.add_url_rule("/json", "json", json)
app.register_blueprint(deep, url_prefix="/mw")

for _n in range(c.ROUTE_COUNT):
    app.add_url_rule(f"/route{_n}/<int:id>", f"route{_n}", user)

_HELMET = dict(c.PEER_HEADERS)

if c.SECURE:

    @app.after_request
    def helmet(response: Response) -> Response:
        response.headers.update(_HELMET)
        return response
