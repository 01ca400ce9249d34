"""The web console (``/console``) and the local assets of the pages Lector serves.

The console is one Jinja template and two static files (``service/console/``): plain HTML,
CSS and JavaScript over Lector's own API, with the key in the browser's session storage.
Swagger UI's assets for the OpenAPI page come from the ``swagger-ui-py`` package and are served
from here too, so no page loads anything from a CDN.
"""

from __future__ import annotations

from importlib import resources
from importlib.util import find_spec
from pathlib import Path

from litestar import Controller, get
from litestar.response import Template
from litestar.router import Router
from litestar.static_files import create_static_files_router

import service
from service.convert.formats import TARGETS
from service.engines import Engines

#: Where the console's files live, in the source tree or the installed package.
CONSOLE = Path(str(resources.files("service") / "console"))
STATIC_PATH = "/console/static"
SWAGGER_PATH = "/console/vendor/swagger-ui"


def swagger_assets() -> Path:
    """The folder of Swagger UI's built files, inside the installed ``swagger-ui-py``."""
    spec = find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed; run `make install`.")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


class ConsoleController(Controller):
    """The console page."""

    path = "/console"
    include_in_schema = False

    @get("/")
    async def console(self) -> Template:
        """The console: sign in with a key, read documents, follow jobs, usage and pairs."""
        return Template(
            template_name="console.html",
            context={
                "static": STATIC_PATH,
                "version": service.__version__,
                "engines": ["auto", *Engines.available()],
                "targets": TARGETS,
            },
        )


def asset_routers() -> list[Router]:
    """The console's static files and Swagger UI's, each under its own path."""
    return [
        create_static_files_router(path=STATIC_PATH, directories=[CONSOLE / "static"], name="console-static"),
        create_static_files_router(path=SWAGGER_PATH, directories=[swagger_assets()], name="swagger-assets"),
    ]
