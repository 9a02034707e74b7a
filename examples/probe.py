"""What can a confined program see? Run it bare and under cordon, and compare.

    python3 examples/probe.py
    cordon run --ro examples -- python3 examples/probe.py
"""
import os
import socket


def attempt(label, action):
    try:
        result = action()
        print(f"  allowed  {label}: {result}")
    except Exception as e:  # the point is to report any refusal
        print(f"  refused  {label}: {type(e).__name__}: {e}")


def read(path, size=60):
    with open(path, "rb") as f:
        return f.read(size)


def connect():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1)
    s.connect(("127.0.0.1", 22))
    return "connected"


print(f"uid={os.getuid()} pid={os.getpid()} environment keys={sorted(os.environ)}")
attempt("read /etc/hostname", lambda: read("/etc/hostname"))
attempt("read /etc/passwd (granted by default)", lambda: read("/etc/passwd", 30))
attempt("list /tmp", lambda: os.listdir("/tmp")[:5])
attempt("read /proc/1/environ", lambda: read("/proc/1/environ"))
attempt("write /tmp/cordon-probe", lambda: open("/tmp/cordon-probe", "w").write("x"))
attempt("open a TCP socket", connect)
attempt("count visible processes", lambda: len([p for p in os.listdir("/proc") if p.isdigit()]))
