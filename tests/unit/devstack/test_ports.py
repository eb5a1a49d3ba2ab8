"""Ports picked for the local processes before any of them binds one."""

import socket

from pantau_devstack.servers import free_port


def test_ports_picked_before_binding_are_all_different() -> None:
    """The kernel may offer a just-probed port again; two services once got the same health
    port and one exited with "address already in use"."""
    picked = [free_port() for _ in range(300)]
    assert len(set(picked)) == len(picked)


def test_a_free_preferred_port_is_taken_and_a_busy_one_is_not() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        busy = held.getsockname()[1]
        assert free_port(busy) != busy
    assert free_port(busy) == busy
