#!/usr/bin/env python3
"""Copy KaTeX and Mermaid from ``node_modules/`` into the web playground's package data.

``symbackprop serve`` draws math with KaTeX and the computational graph with Mermaid, both
served from the package itself (``symbackprop/web/static/vendor/``): no CDN, since the
machines and classrooms it is for are often offline. This script copies what the page needs
from the npm packages that ``package.json`` pins (``npm install`` first) and records their
versions; the copies are committed. Run it after updating KaTeX or Mermaid::

    npm install && python tools/vendor_web_assets.py          # copy
    python tools/vendor_web_assets.py --check                 # exit 1 when the copies differ

What is copied:

* ``katex/katex.min.js``, ``katex/katex.min.css`` and the ``.woff2`` fonts (Chromium, Firefox
  and Safari all read woff2, so the CSS is rewritten to name only those: the ``.woff`` and
  ``.ttf`` fallbacks would triple the size), with KaTeX's LICENSE;
* ``mermaid/mermaid.min.js`` (one file, its dependencies bundled), with Mermaid's LICENSE;
* ``VERSIONS.json``: the version of each.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "symbackprop" / "web" / "static" / "vendor"

#: ``@font-face`` sources after the woff2 one: dropped from KaTeX's CSS
_FALLBACKS = re.compile(r',url\(fonts/[^)]+\.(?:woff|ttf)\) format\("(?:woff|truetype)"\)')


def _version(package: str) -> str:
    return json.loads((NODE_MODULES / package / "package.json").read_text(encoding="utf-8"))["version"]


def wanted() -> dict[str, bytes]:
    """``{path under vendor/: content}`` of every file the page needs."""
    katex, mermaid = NODE_MODULES / "katex", NODE_MODULES / "mermaid"
    missing = [p for p in (katex / "dist" / "katex.min.js", mermaid / "dist" / "mermaid.min.js")
               if not p.exists()]
    if missing:
        raise SystemExit(f"{', '.join(str(p.relative_to(ROOT)) for p in missing)} missing: run `npm install`")
    css = (katex / "dist" / "katex.min.css").read_text(encoding="utf-8")
    css = _FALLBACKS.sub("", css)
    files = {
        "katex/katex.min.js": (katex / "dist" / "katex.min.js").read_bytes(),
        "katex/katex.min.css": css.encode("utf-8"),
        "katex/LICENSE": (katex / "LICENSE").read_bytes(),
        "mermaid/mermaid.min.js": (mermaid / "dist" / "mermaid.min.js").read_bytes(),
        "mermaid/LICENSE": (mermaid / "LICENSE").read_bytes(),
    }
    for font in sorted((katex / "dist" / "fonts").glob("*.woff2")):
        files[f"katex/fonts/{font.name}"] = font.read_bytes()
    versions = {"katex": _version("katex"), "mermaid": _version("mermaid")}
    files["VERSIONS.json"] = (json.dumps(versions, indent=2) + "\n").encode("utf-8")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="only compare the committed copies with node_modules (exit 1 when they differ)")
    args = parser.parse_args(argv)
    files = wanted()
    present = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()} if VENDOR.exists() else set()
    stale = sorted(present - set(files))
    changed = sorted(name for name, data in files.items()
                     if not (VENDOR / name).exists() or (VENDOR / name).read_bytes() != data)
    if args.check:
        for name in changed:
            print(f"differs: {name}")
        for name in stale:
            print(f"not from node_modules: {name}")
        return 1 if changed or stale else 0
    for name in stale:
        (VENDOR / name).unlink()
    for name in changed:
        target = VENDOR / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[name])
    for d in sorted((p for p in VENDOR.rglob("*") if p.is_dir()), reverse=True):
        if not any(d.iterdir()):
            shutil.rmtree(d)
    total = sum(len(v) for v in files.values())
    print(f"{VENDOR.relative_to(ROOT)}: {len(files)} files, {total / 1e6:.1f} MB "
          f"({len(changed)} written, {len(stale)} removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
