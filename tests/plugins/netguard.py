"""Refuses every network connection that leaves the machine, in pytest and in notebook kernels.

Loopback (127.0.0.0/8, ::1, localhost) and Unix sockets stay allowed: kernels and the browser test
talk to local servers. Anything else raises ``ConnectionRefusedError`` before a packet is sent.
"""

import ipaddress
import socket

MESSAGE = "network access is disabled in the course's tests"
_original = {"connect": socket.socket.connect, "connect_ex": socket.socket.connect_ex}


def allowed(address) -> bool:
    """True when ``address`` (as passed to ``socket.connect``) stays on this machine."""
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:  # a host name: resolving it would already leave the machine
        return False


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not allowed(address):
        raise ConnectionRefusedError(f"{MESSAGE}: connect to {address!r}")
    return _original["connect"](self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not allowed(address):
        raise ConnectionRefusedError(f"{MESSAGE}: connect to {address!r}")
    return _original["connect_ex"](self, address)


def install() -> None:
    """Patch ``socket.socket`` in this process (idempotent)."""
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex


def installed() -> bool:
    return socket.socket.connect is _guarded_connect
