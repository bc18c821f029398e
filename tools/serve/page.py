"""The page at `/`: draw a digit, or drop a photo, and see what the served model answers.

Its files (static/: HTML, CSS, JavaScript) come from the server itself and ask for nothing
from anywhere else, so the page works offline. The page speaks only the server's own TF
Serving API: the metadata for the class names (the version's schema), and predict with
signature predict_png and `?prepare=photo`, so what it sends is prepared as mnist-predict
prepares a photo (tools.serve.predict), and the X-Model-Version header of the answer names
the version that answered. TF Serving's API has no way to list its models, so the model's
name is written into the page's HTML.
"""

from __future__ import annotations

import html
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def index(name: str) -> str:
    """The page's HTML for model `name`."""
    text = (STATIC / "index.html").read_text(encoding="utf-8")
    return text.replace("{{model_name}}", html.escape(name, quote=True))


def routes(name: str) -> list[BaseRoute]:
    """The page's routes, for model `name`: `/` and its files under `/static/`."""
    page_html = index(name)

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(page_html)

    return [
        Route("/", page, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
