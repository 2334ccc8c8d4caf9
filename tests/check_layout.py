#!/usr/bin/env python3
"""Checks the source layout that docs/ARCHITECTURE.md describes (ctest `layout`).

1. Includes only go down the layers: each folder may include its own headers, the
   folders its rule names, and system/third-party headers (<...>), nothing else of ours.
2. The source map in docs/ARCHITECTURE.md matches the tree: every layer folder has a row,
   every row names an existing folder, and every source file of a layer is named in
   that folder's row (so a new file cannot land without the map saying where it is).

Usage: check_layout.py SOURCE_DIR. Prints every violation and exits 1 when there is one.
"""
import pathlib
import re
import sys

# What each folder may include of ours ("file.h" of common/ counts as "common").
ALLOWED = {
    "common": {"common"},
    "mod_modsec_observe": {"common", "mod_modsec_observe"},
    "collector/util": {"util"},
    "collector/protocol": {"util", "protocol", "common"},
    "collector/ingest": {"util", "ingest", "common"},
    "collector/state": {"util", "protocol", "state", "common"},
    "collector/store": {"util", "store", "common"},
    "collector/tuning": {"util", "protocol", "state", "store", "tuning", "common"},
    "collector/daemon": {"util", "protocol", "ingest", "state", "store", "tuning", "daemon",
                         "web", "common"},
    "collector/cli": {"util", "protocol", "ingest", "cli", "common"},
    "collector/web": {"web"},
}
LAYER_DIRS = sorted(d for d in ALLOWED if d.startswith("collector/"))
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
SOURCE_SUFFIXES = {".h", ".cpp"}


def owner(include, here, common_headers, module_headers):
    """The folder an include of ours belongs to, or None for one of the folder's own."""
    if "/" in include:
        return include.split("/", 1)[0]
    if include in common_headers:
        return "common"
    if include in module_headers:
        return "mod_modsec_observe"
    return None


def main(root):
    errors = []
    common_headers = {p.name for p in (root / "common").glob("*.h")}
    module_headers = {p.name for p in (root / "mod_modsec_observe").glob("*.h")}
    for folder, allowed in ALLOWED.items():
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.suffix not in SOURCE_SUFFIXES:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for include in INCLUDE.findall(text):
                layer = owner(include, folder, common_headers, module_headers)
                if layer is None:
                    if not (path.parent / include).exists():
                        errors.append(f"{path.relative_to(root)}: includes \"{include}\", "
                                      "which is neither its folder's nor a layer's header")
                    continue
                if layer not in allowed:
                    errors.append(f"{path.relative_to(root)}: includes \"{include}\" but "
                                  f"{folder}/ may include only {sorted(allowed)}")

    doc = (root / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    rows = {}
    for line in doc.splitlines():
        m = re.match(r"^\|\s*`(collector/[a-z_]+)/`\s*\|(.*)$", line)
        if m:
            rows[m.group(1)] = m.group(2)
    present = [d for d in LAYER_DIRS if (root / d).is_dir()]
    extra = sorted(p.relative_to(root).as_posix() for p in (root / "collector").iterdir()
                   if p.is_dir() and p.relative_to(root).as_posix() not in ALLOWED)
    for d in extra:
        errors.append(f"{d}/: a folder with no layer rule (add it to tests/check_layout.py "
                      "and docs/ARCHITECTURE.md)")
    for d in present:
        if d not in rows:
            errors.append(f"docs/ARCHITECTURE.md: no source-map row for `{d}/`")
            continue
        for path in sorted((root / d).iterdir()):
            if path.suffix in SOURCE_SUFFIXES and path.stem not in rows[d]:
                errors.append(f"docs/ARCHITECTURE.md: the `{d}/` row does not name "
                              f"{path.name} (by its stem, `{path.stem}`)")
    for d in rows:
        if not (root / d).is_dir():
            errors.append(f"docs/ARCHITECTURE.md: a source-map row for `{d}/`, which does "
                          "not exist")
    for e in errors:
        print(e)
    print(f"layout: {len(errors)} problems in {len(present)} layer folders")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()))
