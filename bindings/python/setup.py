"""What pyproject.toml cannot say statically: where the Rust crate is, and the wheel's tag.

- The crate: in a checkout, the repository around this package (``../../Cargo.toml``); in an
  sdist, ``rust/``, the crate exactly as ``cargo package`` packs it for crates.io (its
  ``include`` list in Cargo.toml), so ``pip install carbon_tracker-<v>.tar.gz`` builds anywhere
  a Rust toolchain is. It is built with ``--locked`` (the versions of Cargo.lock) as a cdylib
  (setuptools-rust runs ``cargo rustc --lib --crate-type cdylib``) with the C ABI (feature
  ``capi``), and without the ``carbon-tracker`` command (feature ``cli``, off by default).
- The tag: the package loads the library with ctypes, so the wheel suits every Python 3 on this
  platform (``py3-none-<platform>``), not one CPython version. ``auditwheel repair`` turns its
  ``linux_*`` platform into the manylinux tag an index takes (scripts/publish-check.sh)."""

import glob
import os
import shutil
import subprocess
import tarfile
import tempfile

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.sdist import sdist
from setuptools_rust import Binding, RustExtension

HERE = os.path.dirname(os.path.abspath(__file__))
CRATE_IN_SDIST = "rust"
CRATE_IN_CHECKOUT = os.path.join("..", "..")


def crate_dir() -> str:
    """The crate to build, relative to this file."""
    if os.path.isfile(os.path.join(HERE, CRATE_IN_SDIST, "Cargo.toml")):
        return CRATE_IN_SDIST
    if os.path.isfile(os.path.join(HERE, CRATE_IN_CHECKOUT, "Cargo.toml")):
        return CRATE_IN_CHECKOUT
    raise SystemExit(
        "carbon-tracker: no Rust crate to build: this is neither an sdist (rust/Cargo.toml) nor "
        "bindings/python of a checkout (../../Cargo.toml)"
    )


def pack_crate(into: str) -> None:
    """The checkout's crate as `cargo package` packs it, unpacked into `into` (the library's
    package: the workspace's other one, capi/, builds the C libraries of the checkout)."""
    cargo = os.environ.get("CARGO", "cargo")
    manifest = os.path.join(HERE, CRATE_IN_CHECKOUT, "Cargo.toml")
    with tempfile.TemporaryDirectory() as target:
        # --allow-dirty: an sdist may be made from a working tree; --no-verify: the wheel build
        # compiles it.
        subprocess.run(
            [cargo, "package", "--quiet", "--locked", "--no-verify", "--allow-dirty",
             "--manifest-path", manifest, "--package", "carbon-tracker", "--target-dir", target],
            check=True,
        )  # fmt: skip
        (crate,) = glob.glob(os.path.join(target, "package", "*.crate"))
        with tarfile.open(crate) as tar:
            top = tar.getnames()[0].split("/")[0]  # carbon-tracker-<version>
            tar.extractall(target)
        shutil.copytree(os.path.join(target, top), into)


class SdistWithCrate(sdist):
    def make_release_tree(self, base_dir: str, files: "list[str]") -> None:
        super().make_release_tree(base_dir, files)
        into = os.path.join(base_dir, CRATE_IN_SDIST)
        if crate_dir() == CRATE_IN_SDIST:  # an sdist made from an sdist
            shutil.copytree(os.path.join(HERE, CRATE_IN_SDIST), into)
        else:
            pack_crate(into)


class PlatformWheel(bdist_wheel):
    def get_tag(self) -> "tuple[str, str, str]":
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(
    cmdclass={"bdist_wheel": PlatformWheel, "sdist": SdistWithCrate},
    rust_extensions=[
        RustExtension(
            "carbon_tracker.libcarbon_tracker",
            path=os.path.join(crate_dir(), "Cargo.toml"),
            binding=Binding.NoBinding,
            py_limited_api=True,
            args=["--features", "capi"],
            # The SONAME of the C library built by the workspace (build.rs): the same file name
            # in target/<profile> then means the same library, whichever build made it last.
            env=dict(os.environ, CARBON_TRACKER_SONAME="1"),
            cargo_manifest_args=["--locked"],
        )
    ],
)
