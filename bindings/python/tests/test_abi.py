"""The ctypes side of the ABI against include/carbon_tracker.h itself: status names and values,
and the layout of ct_emissions as the C compiler lays it out (no hand-computed numbers)."""

import ctypes
import pathlib
import re
import shutil
import subprocess

import carbon_tracker as ct
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
HEADER = ROOT / "include" / "carbon_tracker.h"


def header_text() -> str:
    # Comments out, so that only declarations are matched.
    text = HEADER.read_text()
    return re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)


def header_statuses() -> dict:
    body = re.search(r"enum ct_status\s*\{(.*?)\}", header_text(), re.S).group(1)
    values, next_value = {}, 0
    for item in filter(None, (i.strip() for i in body.split(","))):
        name, _, value = (p.strip() for p in item.partition("="))
        next_value = int(value, 0) if value else next_value
        values[name] = next_value
        next_value += 1
    return values


def header_emissions_fields() -> list:
    body = re.search(r"struct ct_emissions\s*\{(.*?)\}", header_text(), re.S).group(1)
    return [m.group(2) for m in re.finditer(r"(\w+)\s+(\w+)\s*;", body)]


def test_status_enum_is_the_headers():
    assert {s.name: int(s) for s in ct.Status} == header_statuses()


def test_emissions_fields_are_the_headers():
    names = header_emissions_fields()
    assert [f[0] for f in ct._CtEmissions._fields_] == names
    assert [f.name for f in ct.Emissions.__dataclass_fields__.values()] == names[1:]  # all but struct_size


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_emissions_layout_is_the_c_compilers(tmp_path):
    names = header_emissions_fields()
    lines = ['printf("sizeof %zu %zu\\n", sizeof(ct_emissions), _Alignof(ct_emissions));']
    lines += [
        f'printf("{n} %zu %zu\\n", offsetof(ct_emissions, {n}), sizeof(((ct_emissions *)0)->{n}));' for n in names
    ]
    src = tmp_path / "layout.c"
    src.write_text(
        '#include <stddef.h>\n#include <stdio.h>\n#include "carbon_tracker.h"\nint main(void) {\n'
        + "\n".join(lines)
        + "\nreturn 0;\n}\n"
    )
    exe = tmp_path / "layout"
    subprocess.run(["cc", "-std=c11", "-I", str(ROOT / "include"), str(src), "-o", str(exe)], check=True, timeout=300)
    c = {}
    for line in subprocess.run([str(exe)], check=True, capture_output=True, text=True, timeout=300).stdout.splitlines():
        name, a, b = line.split()
        c[name] = (int(a), int(b))
    assert c.pop("sizeof") == (ctypes.sizeof(ct._CtEmissions), ctypes.alignment(ct._CtEmissions))
    py = {
        n: (getattr(ct._CtEmissions, n).offset, getattr(ct._CtEmissions, n).size) for n, _ in ct._CtEmissions._fields_
    }
    assert py == c
