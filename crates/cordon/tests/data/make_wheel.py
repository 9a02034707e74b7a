"""Packs the source tree in `wheel/` into a wheel (a zip with a RECORD of hashes).

Usage: make_wheel.py SOURCE_TREE OUT_DIR; prints the wheel's path.
"""
import base64
import hashlib
import os
import sys
import zipfile

NAME = "cordon_hello-0.1"


def digest(data):
    raw = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def main(tree, out_dir):
    files = {}
    for folder, _, names in sorted(os.walk(tree)):
        for name in sorted(names):
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, tree)] = f.read()
    record = f"{NAME}.dist-info/RECORD"
    lines = [f"{n},{digest(d)},{len(d)}" for n, d in files.items()] + [f"{record},,"]
    files[record] = ("\n".join(lines) + "\n").encode()
    wheel = os.path.join(out_dir, f"{NAME}-py3-none-any.whl")
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
    print(wheel)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
