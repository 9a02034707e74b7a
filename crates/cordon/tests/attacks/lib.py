# Helpers every Python attack starts with. Each attack prints one JSON line as its last
# line of output: a map from attack step to its outcome.
import ctypes
import errno
import json
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def attempt(step, *args):
    """Runs one attack step: {"ok": True, "value": ...} or {"ok": False, "error": "EACCES"}."""
    try:
        value = step(*args)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        return {"ok": True, "value": value}
    except OSError as e:
        return {"ok": False, "error": errno.errorcode.get(e.errno, str(e))}


def syscall(nr, *args):
    """A raw system call; raises OSError like the os module does. Integers are passed as
    longs: ctypes would pass them as ints, leaving the upper half of the register undefined."""
    args = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(nr), *args)
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def read(path, limit=65536):
    with open(path, "rb") as f:
        return f.read(limit)


def digest(path):
    """sha256 of a file: lets a test compare contents without ever printing them."""
    import hashlib

    return hashlib.sha256(read(path, 1 << 20)).hexdigest()


def report(**steps):
    print(json.dumps(steps), flush=True)
