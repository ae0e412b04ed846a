"""Builds the optional C decoder (tsvis_live.formats._native._decode); metadata is in pyproject.toml.

The extension only speeds decoding up: when it cannot be compiled (no compiler, no Python
headers) the install still succeeds with a warning, and the pure-Python decoder is used.
"""

from __future__ import annotations

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """A build_ext whose failures are warnings: the package works without the extension."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler at all (DistutilsPlatformError and the like)
            self._skip(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # CompileError, LinkError
            self._skip(exc, ext.name)

    @staticmethod
    def _skip(exc: Exception, name: str = "the C extensions") -> None:
        print(f"WARNING: could not build {name} ({exc}); tsvis-live will use its pure-Python "
              "decoder, which is correct but slower", file=sys.stderr)


setup(
    ext_modules=[
        Extension(
            "tsvis_live.formats._native._decode",
            sources=["tsvis_live/formats/_native/_decode.c",
                     "tsvis_live/formats/_native/histograms.c"],
            depends=["tsvis_live/formats/_native/wire.h"],
            extra_compile_args=["-O2", "-std=c11", "-ffp-contract=off"] if sys.platform != "win32" else [],
            optional=True,
        )
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
