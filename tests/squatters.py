"""Someone else's process holding one of our abstract socket names (any local user can
bind a name first: they are listed in /proc/net/unix). Subclasses say how it answers."""

from __future__ import annotations

import contextlib
import socket
import threading


class SocketSquatter:
    """Binds `address`; unless `listen` is False (a deaf squatter: connections are
    refused... by nobody), accepts every connection and hands it to `serve` on a thread."""

    def __init__(self, address: bytes, *, listen: bool = True) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(address)
        self.stop = threading.Event()
        self.conns: list[socket.socket] = []
        if listen:
            self.sock.listen(16)
            self.sock.settimeout(0.1)
            threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.stop.set()
        for sock in (self.sock, *self.conns):
            with contextlib.suppress(OSError):
                sock.close()


class Babbler(SocketSquatter):
    """A process without the token on the name, answering a line that is not the
    protocol to whatever it is told."""

    def serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.recv(4096)
            conn.sendall(b'{"t":"status","id":1}\n')
