"""What a Rust program depending on carbon-tracker built, from `cargo build --message-format json`
(scripts/publish-check.sh): python3 user_build.py BUILD.json. Prints the packages compiled and
what carbon-tracker was built as; fails if it was more than an rlib, or if the command's
dependencies (clap, chrono), the C libraries' package or gzip (flate2) were built."""

import json
import sys

with open(sys.argv[1]) as f:
    messages = [json.loads(line) for line in f if line.startswith("{")]
artifacts = [m for m in messages if m.get("reason") == "compiler-artifact"]


def package_name(package_id: str) -> str:
    # "registry+https://...#clap@4.5.1" or "path+file:///.../carbon-tracker-0.1.0#carbon-tracker@0.1.0"
    # (or, from older cargo, "clap 4.5.1 (registry+...)").
    tail = package_id.split("#")[-1]
    return tail.split("@")[0].split(" ")[0].rsplit("/", 1)[-1]


names = sorted({package_name(a["package_id"]) for a in artifacts})
ours = [f for a in artifacts if a["target"]["name"] == "carbon_tracker" for f in a["filenames"]]
kinds = sorted({f.rsplit(".", 1)[-1] for f in ours})
print(f"  {len(names)} packages compiled or reused (with the program); carbon-tracker built as: {', '.join(kinds)}")
bad = [f for f in ours if not f.endswith((".rlib", ".rmeta"))]
assert not bad, f"carbon-tracker built as more than an rlib: {bad}"
# flate2: ureq's gzip, which no endpoint of the library needs (Cargo.toml turns it off).
extra = {"clap", "chrono", "carbon-tracker-capi", "flate2"} & set(names)
assert not extra, f"built for a library user: {sorted(extra)}"
