# Opens a socket of each family in sys.argv[1:]. Where the direct call is refused, tries
# again inside a fresh user and network namespace, which hands an unprivileged process
# CAP_NET_RAW there (the route a real attacker takes). Needs lib.py in front.
import socket

FAMILIES = {
    "raw": (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
    "raw6": (socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6),
    "packet": (socket.AF_PACKET, socket.SOCK_RAW, 0),
    "netlink": (socket.AF_NETLINK, socket.SOCK_RAW, 0),
    "vsock": (socket.AF_VSOCK, socket.SOCK_STREAM, 0),
}
CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000


def open_family(name):
    socket.socket(*FAMILIES[name]).close()


def unshare():
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


names = sys.argv[1:]
direct = {name: attempt(open_family, name) for name in names}
refused = [name for name in names if not direct[name]["ok"]]
userns = attempt(unshare) if refused else {"ok": False, "error": "not needed"}
steps = {}
for name in names:
    via_userns = attempt(open_family, name) if name in refused and userns["ok"] else None
    steps[name] = {
        "ok": direct[name]["ok"] or bool(via_userns and via_userns["ok"]),
        "direct": direct[name],
        "userns": via_userns,
    }
steps["unshare"] = userns
report(**steps)
