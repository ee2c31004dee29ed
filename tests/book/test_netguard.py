"""No test, package code or notebook kernel can open a connection that leaves the machine."""

import socket

import netguard
import pytest


def test_guard_is_installed_in_this_process():
    assert netguard.installed()


@pytest.mark.parametrize(
    "address, ok",
    [
        (("127.0.0.1", 80), True),
        (("127.3.4.5", 80), True),
        (("::1", 80, 0, 0), True),
        (("localhost", 80), True),
        ("/tmp/some.sock", True),
        (("192.0.2.1", 80), False),
        (("2001:db8::1", 80, 0, 0), False),
        (("example.org", 443), False),
    ],
)
def test_allowed_addresses(address, ok):
    assert netguard.allowed(address) is ok


def test_outside_connection_is_refused_before_any_packet(monkeypatch):
    calls = []
    monkeypatch.setitem(netguard._original, "connect", lambda sock, addr: calls.append(addr))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(ConnectionRefusedError, match="network access is disabled"):
            sock.connect(("192.0.2.1", 80))
    assert calls == []


def test_loopback_connection_still_works():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            conn, _ = server.accept()
            conn.close()


def test_notebook_kernels_start_with_the_guard():
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        reply = kc.execute_interactive(
            "import socket; assert socket.socket.connect.__name__ == '_guarded_connect'",
            timeout=60,
        )
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
