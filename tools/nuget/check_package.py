#!/usr/bin/env python3
"""Checks for tools/nuget/consume.sh.

  check_package.py NUPKG SNUPKG VERSION   the package's files, metadata and dependencies, and its symbols package
  check_package.py --weak DIR EXPECTED     DIR's libLibTorchSharp.so has its GLIBCXX_3.4.32 need weak (EXPECTED=1)
                                           or as shipped (EXPECTED=0)
  check_package.py --loads DIR EXPECTED    the dynamic loader loads DIR's libLibTorchSharp.so (EXPECTED=1), or
                                           refuses it for want of GLIBCXX_3.4.32 (EXPECTED=0)

Prints what it found and exits 1 on the first mismatch.
"""
import ctypes
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile

NEEDED_VERSION = "GLIBCXX_3.4.32"


def fail(message):
    print(f"check: {message}", file=sys.stderr)
    sys.exit(1)


def check_package(nupkg, snupkg, version):
    for path in (nupkg, snupkg):
        if not os.path.isfile(path):
            fail(f"{path} was not written")
    with zipfile.ZipFile(nupkg) as z:
        names = set(z.namelist())
        nuspec = z.read("DpHubert.nuspec").decode("utf-8-sig")
    for required in ("lib/net8.0/DpHubert.Core.dll", "lib/net8.0/DpHubert.Core.xml", "README.md",
                     "buildTransitive/DpHubert.targets"):
        if required not in names:
            fail(f"{nupkg} has no {required} (files: {sorted(names)})")
    if any(n.endswith(".pdb") for n in names):
        fail(f"{nupkg} carries a .pdb; symbols belong in the .snupkg")

    ns = {"n": "http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"}
    meta = ET.fromstring(nuspec).find("n:metadata", ns)
    if meta is None:
        fail("nuspec has no metadata")

    def text(tag):
        node = meta.find(f"n:{tag}", ns)
        return node.text if node is not None and node.text else ""

    expected = {"id": "DpHubert", "version": version, "license": "MIT", "readme": "README.md"}
    for tag, value in expected.items():
        if text(tag) != value:
            fail(f"nuspec <{tag}> is {text(tag)!r}, expected {value!r}")
    license_node = meta.find("n:license", ns)
    if license_node.get("type") != "expression":
        fail("the licence is not an SPDX expression")
    for tag in ("description", "authors", "tags", "copyright"):
        if not text(tag):
            fail(f"nuspec has no <{tag}>")
    repository = meta.find("n:repository", ns)
    if repository is None or not repository.get("commit"):
        fail("nuspec has no <repository> with the commit it was built from")

    deps = [(g.get("targetFramework"), d.get("id"), d.get("version"))
            for g in meta.iterfind("n:dependencies/n:group", ns) for d in g.iterfind("n:dependency", ns)]
    # TorchSharp (never a runtime package: the app picks it) and the managed MP3 and Ogg Vorbis decoders.
    if sorted(d[1] for d in deps) != ["NLayer", "NVorbis", "TorchSharp"]:
        fail(f"the package must depend on TorchSharp, NLayer and NVorbis alone (the app picks the runtime), found {deps}")

    with zipfile.ZipFile(snupkg) as z:
        if "lib/net8.0/DpHubert.Core.pdb" not in z.namelist():
            fail(f"{snupkg} has no lib/net8.0/DpHubert.Core.pdb (files: {z.namelist()})")
    print(f"check: {os.path.basename(nupkg)}: {len(names)} files, depends on {deps}, "
          f"repository commit {repository.get('commit')[:12]} {repository.get('url') or '(no web remote)'}")


def find_library(directory):
    """libLibTorchSharp.so of a build or publish output: under runtimes/ (portable) or beside the program (RID)."""
    candidates = [os.path.join(directory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"),
                  os.path.join(directory, "libLibTorchSharp.so")]
    lib = next((c for c in candidates if os.path.isfile(c)), None)
    if lib is None:
        fail(f"no libLibTorchSharp.so in {directory}")
    return lib


def check_loads(directory, expected_loads):
    lib = find_library(directory)
    try:
        ctypes.CDLL(os.path.abspath(lib))
        error = None
    except OSError as e:
        error = str(e)
    if expected_loads and error is not None:
        fail(f"the loader refuses {lib}: {error}")
    if not expected_loads:
        if error is None:
            fail(f"the loader accepts {lib}, expected it to refuse the library as shipped")
        if NEEDED_VERSION not in error:
            fail(f"the loader refuses {lib} for another reason than {NEEDED_VERSION}: {error}")
    print(f"check: {lib}: " + ("loads" if error is None else error))


def check_weak(directory, expected_weak):
    lib = find_library(directory)
    # binutils reads the version needs, independently of the code that patched them.
    listing = subprocess.run(["readelf", "-V", "-W", lib], check=True, capture_output=True, text=True).stdout
    needs = re.findall(r"Name: " + re.escape(NEEDED_VERSION) + r"\s+Flags: (\S+)", listing)
    if len(needs) != 1:
        fail(f"{lib}: expected one {NEEDED_VERSION} need, found {needs}")
    weak = needs[0] == "WEAK"
    if weak != expected_weak:
        fail(f"{lib}: {NEEDED_VERSION} need is {'weak' if weak else 'as shipped'}, "
             f"expected {'weak' if expected_weak else 'as shipped'}")
    print(f"check: {lib}: {NEEDED_VERSION} need {'weak' if weak else 'as shipped'}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--weak":
        check_weak(sys.argv[2], sys.argv[3] == "1")
    elif len(sys.argv) == 4 and sys.argv[1] == "--loads":
        check_loads(sys.argv[2], sys.argv[3] == "1")
    elif len(sys.argv) == 4:
        check_package(sys.argv[1], sys.argv[2], sys.argv[3])
    else:
        fail(__doc__)
