"""The moto series the emulator's patches are written against (standard library only, imported first)."""

from __future__ import annotations

from importlib import metadata

SUPPORTED_SERIES = ("5", "2")
TESTED_VERSION = "5.2.5"


class MotoVersionError(RuntimeError):
    """The installed moto is not the series the emulator's patches are written against."""


def check_moto_version() -> str:
    """Return the installed moto version, or raise :class:`MotoVersionError` if it is not 5.2.x."""
    try:
        version = metadata.version("moto")
    except metadata.PackageNotFoundError as exc:
        raise MotoVersionError(
            "dynamigrate.emulator needs moto[server] 5.2.x; install it with: pip install 'moto[server]>=5.2,<5.3'"
        ) from exc
    if tuple(version.split(".")[:2]) != SUPPORTED_SERIES:
        raise MotoVersionError(
            f"dynamigrate.emulator patches moto internals written against moto {TESTED_VERSION} (series 5.2.x); "
            f"found moto {version}. Install 'moto[server]>=5.2,<5.3' or port emulator/_moto_patches.py."
        )
    return version
