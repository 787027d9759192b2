"""Front-end libraries the pages use, fetched from the npm registry by a pinned, checked step.

``make install`` runs ``python -m seqtrack.web.vendor``: each package's tarball is
downloaded once, its SHA-256 compared with the pin below, and only the listed files
(with their licences) unpacked into ``static/vendor/``. Nothing is fetched at run time,
no Node.js is needed, and the files are never edited by hand: to upgrade, change a pin.
"""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

VENDOR_DIR = Path(__file__).parent / "static" / "vendor"


@dataclass(frozen=True)
class Pinned:
    package: str
    version: str
    sha256: str
    licence: str
    # path inside the tarball -> file name under static/vendor/<package>/
    files: dict[str, str]

    @property
    def tarball_url(self) -> str:
        return f"https://registry.npmjs.org/{self.package}/-/{self.package}-{self.version}.tgz"

    @property
    def directory(self) -> Path:
        return VENDOR_DIR / self.package


PINNED: tuple[Pinned, ...] = (
    Pinned(
        "htmx.org",
        "2.0.11",
        "165a2655073e9e6e55e307a7c74e8ebcdb76afb7701f9c16cfd106a13add408e",
        "0BSD",
        {"package/dist/htmx.min.js": "htmx.min.js", "package/LICENSE": "LICENSE"},
    ),
    Pinned(
        "swagger-ui-dist",
        "5.35.0",
        "1b8e891893404ea4c3558b6a87e2a3e494e7eedba41168c2ece5800a391a6ea6",
        "Apache-2.0",
        {
            "package/swagger-ui-bundle.js": "swagger-ui-bundle.js",
            "package/swagger-ui.css": "swagger-ui.css",
            "package/LICENSE": "LICENSE",
            "package/swagger-ui-bundle.js.LICENSE.txt": "swagger-ui-bundle.js.LICENSE.txt",
        },
    ),
    Pinned(
        "redoc",
        "2.5.4",
        "44922df4d0eb45c1b066c09ec251e6bd9bd7ded16bc69e87613337b9d911a56e",
        "MIT",
        {
            "package/bundles/redoc.standalone.js": "redoc.standalone.js",
            "package/bundles/redoc.standalone.js.LICENSE.txt": "redoc.standalone.js.LICENSE.txt",
            "package/LICENSE": "LICENSE",
        },
    ),
)


class VendorError(RuntimeError):
    pass


def is_installed(pinned: Pinned) -> bool:
    stamp = pinned.directory / ".version"
    return stamp.is_file() and stamp.read_text().strip() == f"{pinned.version} {pinned.sha256}"


def missing() -> list[Pinned]:
    return [pinned for pinned in PINNED if not is_installed(pinned)]


def install(pinned: Pinned) -> None:
    with urllib.request.urlopen(pinned.tarball_url, timeout=60) as response:  # a fixed https URL
        tarball = response.read()
    digest = hashlib.sha256(tarball).hexdigest()
    if digest != pinned.sha256:
        raise VendorError(
            f"{pinned.package} {pinned.version}: SHA-256 {digest} does not match "
            f"the pin {pinned.sha256}; nothing written."
        )
    pinned.directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member_name, target in pinned.files.items():
            member = archive.extractfile(member_name)
            if member is None:
                raise VendorError(f"{pinned.package} {pinned.version} has no {member_name}.")
            (pinned.directory / target).write_bytes(member.read())
    (pinned.directory / ".version").write_text(f"{pinned.version} {pinned.sha256}\n")


def main() -> int:
    for pinned in missing():
        print(f"fetching {pinned.package} {pinned.version} ({pinned.licence}) from the npm registry")  # noqa: T201
        try:
            install(pinned)
        except (OSError, VendorError) as error:
            print(f"error: {error}", file=sys.stderr)  # noqa: T201
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
