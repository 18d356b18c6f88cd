"""The sockets of `serve --workers N` (smmpanel/reuseport.py), on real sockets:
who else on a port refuses a start, and the fallback to one shared socket."""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Iterator

import pytest

from smmpanel import server
from smmpanel.reuseport import PortGroup, _proc_address, reuseport_supported

linux = pytest.mark.skipif(not reuseport_supported(), reason="SO_REUSEPORT spreads on Linux")


@pytest.fixture
def held() -> Iterator[list[PortGroup | socket.socket]]:
    things: list[PortGroup | socket.socket] = []
    yield things
    for thing in things:
        thing.close()


def listening(sock: socket.socket) -> bool:
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1


@linux
def test_each_process_gets_a_socket_on_one_port_listening_once_it_serves(
    held: list[PortGroup | socket.socket],
) -> None:
    group = PortGroup("127.0.0.1", 0, 3)
    held.append(group)
    assert {sock.getsockname() for sock in group.sockets} == {("127.0.0.1", group.port)}
    for sock in group.sockets:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        assert sock.proto == socket.IPPROTO_TCP  # for TCP_NODELAY on accepted sockets
        assert sock.get_inheritable()
        # The process listens (asyncio does) once its app is loaded: no
        # connection waits for a process that is still starting.
        assert not listening(sock)
    old = group.sockets[1]
    group.replace(1, group.fresh())
    assert old.fileno() == -1 and group.sockets[1].getsockname()[1] == group.port


@linux
def test_a_second_group_on_the_port_is_refused(held: list[PortGroup | socket.socket]) -> None:
    first = PortGroup("127.0.0.1", 0, 2)
    held.append(first)
    # The kernel would let it bind (same user, SO_REUSEPORT): the guard refuses.
    for host in ("127.0.0.1", "0.0.0.0", "127.0.0.2", "localhost"):
        with pytest.raises(OSError) as refused:
            PortGroup(host, first.port, 2)
        assert refused.value.errno == errno.EADDRINUSE
    # A refused start leaves the first group as it was; its end frees the port.
    assert all(sock.fileno() != -1 for sock in first.sockets)
    first.close()
    held.append(PortGroup("127.0.0.1", first.port, 2))


@linux
@pytest.mark.parametrize(
    ("other", "ours", "shared"),
    [
        ("127.0.0.1", "127.0.0.1", True),
        ("0.0.0.0", "127.0.0.1", True),
        ("127.0.0.1", "0.0.0.0", True),
        ("127.0.0.1", "127.0.0.2", False),
        ("127.0.0.1", "localhost", True),
    ],
)
def test_another_program_listening_with_reuseport_refuses_a_start(
    held: list[PortGroup | socket.socket], other: str, ours: str, shared: bool
) -> None:
    program = socket.socket()
    held.append(program)
    program.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    program.bind((other, 0))
    program.listen()
    port = program.getsockname()[1]
    if shared:
        with pytest.raises(OSError) as refused:
            PortGroup(ours, port, 2)
        assert refused.value.errno == errno.EADDRINUSE
    else:
        held.append(PortGroup(ours, port, 2))


@linux
def test_a_port_bound_without_reuseport_is_refused_by_the_kernel(
    held: list[PortGroup | socket.socket],
) -> None:
    program = server.bind_listener("127.0.0.1", 0)
    held.append(program)
    with pytest.raises(OSError) as refused:
        PortGroup("127.0.0.1", program.getsockname()[1], 2)
    assert refused.value.errno == errno.EADDRINUSE


def test_proc_addresses_are_read_in_host_byte_order() -> None:
    if sys.byteorder != "little":
        pytest.skip("the samples are a little-endian kernel's")
    assert str(_proc_address("0100007F")) == "127.0.0.1"
    assert str(_proc_address("00000000000000000000000001000000")) == "::1"


def test_one_shared_socket_where_reuseport_does_not_spread(
    held: list[PortGroup | socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a non-Linux system gets: uvicorn's way, every process on one socket.
    monkeypatch.setattr(server, "reuseport_supported", lambda: False)
    shared = server.bind_listeners("127.0.0.1", 0, 2)
    held.append(shared)
    assert isinstance(shared, socket.socket) and listening(shared)


def test_one_process_listens_on_one_plain_socket(held: list[PortGroup | socket.socket]) -> None:
    single = server.bind_listeners("127.0.0.1", 0, 1)
    held.append(single)
    assert isinstance(single, socket.socket) and listening(single)
    assert single.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0
