# Runs sys.argv[1:] as a session leader whose controlling terminal is a fresh pty, wired to
# its stdin, stdout and stderr, the way an interactive user's shell would start cordon. When
# it ends, prints one JSON line: its exit status, everything it wrote to the terminal, and
# any input waiting in the terminal that nobody typed (what TIOCSTI would have injected).
import fcntl
import json
import os
import pty
import select
import sys
import termios

master, slave = pty.openpty()
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.closerange(3, 1024)
    try:
        os.execv(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)

output = b""
status = None
while True:
    ready, _, _ = select.select([master], [], [], 0.05)
    if ready:
        try:
            output += os.read(master, 65536)
        except OSError:
            pass
    if status is None:
        done, status_word = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(status_word)
    elif not ready:
        break

# Read whatever input is queued on the terminal, without waiting for a newline.
attrs = termios.tcgetattr(slave)
attrs[3] &= ~(termios.ICANON | termios.ECHO)
attrs[6][termios.VMIN] = 0
attrs[6][termios.VTIME] = 0
termios.tcsetattr(slave, termios.TCSANOW, attrs)
pending = b""
while True:
    chunk = os.read(slave, 65536)
    if not chunk:
        break
    pending += chunk
print(json.dumps({
    "status": status,
    "output": output.decode("utf-8", "replace").replace("\r\n", "\n"),
    "pending": pending.decode("utf-8", "replace"),
}), flush=True)
