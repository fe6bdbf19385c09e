"""Only the wheel tag lives here (the rest is in pyproject.toml): the package loads the library
with ctypes, so the wheel suits every Python 3 on this platform (py3-none-<platform>), not one
CPython version."""

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel


class PlatformWheel(bdist_wheel):
    def get_tag(self) -> "tuple[str, str, str]":
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(cmdclass={"bdist_wheel": PlatformWheel})
