"""``make demo`` keeps its preferred ports across restarts: a port whose old
connections linger in TIME-WAIT is free for the server, and looks free."""

from __future__ import annotations

import socket

from frontdesk.cli.demo import pick_port
from frontdesk.server.listen import bind_socket


def _time_wait_port() -> int:
    """A port on 127.0.0.1 with a connection in TIME-WAIT and nothing listening:
    the server side closes first, as a server that stops does."""
    listener = bind_socket("127.0.0.1", 0)
    listener.listen()
    port = int(listener.getsockname()[1])
    client = socket.create_connection(("127.0.0.1", port))
    served, _ = listener.accept()
    served.close()  # the active close: this side goes to TIME-WAIT
    client.recv(1)  # sees the FIN
    client.close()
    listener.close()
    return port


def test_a_port_in_time_wait_is_picked() -> None:
    port = _time_wait_port()
    with socket.socket() as plain:  # without SO_REUSEADDR it looks busy
        try:
            plain.bind(("127.0.0.1", port))
            looked_busy = False
        except OSError:
            looked_busy = True
    assert looked_busy  # the situation the probe must see through
    assert pick_port(port) == port
    bind_socket("127.0.0.1", port).close()  # and the server can indeed bind it


def test_a_port_in_use_is_not_picked() -> None:
    listener = bind_socket("127.0.0.1", 0)
    listener.listen()
    try:
        busy = int(listener.getsockname()[1])
        other = pick_port(busy)
        assert other != busy and other > 0
    finally:
        listener.close()
