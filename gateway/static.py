"""The wallboard's static files, read from the ``wallboard`` package with importlib.resources.

Only flat file names with a known extension are served, so a path can never leave the
package: ``/`` is ``index.html``, ``/app.js`` is ``app.js``, anything else is not found.
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass

PACKAGE = "wallboard"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.html|\.js|\.css|\.svg|\.png|\.ico)$")
# The page loads nothing from elsewhere; event text can never run as script.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str


def resolve(path: str) -> StaticFile | None:
    """The file for a URL path (without query), or ``None`` when there is none."""
    name = "index.html" if path in ("/", "/index.html") else path.removeprefix("/")
    match = _NAME_RE.match(name)
    if match is None:
        return None
    resource = importlib.resources.files(PACKAGE).joinpath(name)
    try:
        body = resource.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    return StaticFile(body, CONTENT_TYPES[match.group(1)])
