"""bench.stack's free ports: a block `make run-production` can number its replicas from, safe from outgoing connections."""

from __future__ import annotations

import socket

from bench.stack import _ephemeral_range, free_port


def test_a_block_of_ports_is_free_and_below_the_range_outgoing_connections_take_from() -> None:
    low, _ = _ephemeral_range()
    first = free_port(3)
    assert 1024 < first and first + 3 <= low
    for port in range(first, first + 3):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # raises if another process holds it


def test_a_port_held_by_a_listener_is_never_part_of_the_block() -> None:
    first = free_port(2)
    with socket.socket() as held:
        held.bind(("127.0.0.1", first + 1))
        held.listen()
        for _ in range(50):
            chosen = free_port(2)
            assert first + 1 not in (chosen, chosen + 1)
