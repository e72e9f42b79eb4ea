"""The lab's container images as docker-archive files, built from Debian packages and PyPI
wheels (no registry needed): `build()` here, `trader images build` on the command line."""

from app.ops.images.build import BuiltImage, ImageError, build, images_home

__all__ = ["BuiltImage", "ImageError", "build", "images_home"]
