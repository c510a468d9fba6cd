"""A TCP proxy in front of the Temporal server that fails on cue (tests of outages mid-import)."""

from __future__ import annotations

import asyncio


class CuttableProxy:
    """A TCP proxy to the Temporal server that cuts every connection, and stops listening, once the
    client has sent `cut_after` bytes through it: the service gone mid-import, at a point that does not
    depend on timing."""

    def __init__(self, target: str, cut_after: int | None = None, back_after: float | None = None):
        host, port = target.rsplit(":", 1)
        self.target, self.cut_after, self.sent, self.conns = (host, int(port)), cut_after, 0, []
        self.cut_done = False
        # `back_after`: seconds after the cut the proxy listens again on the same port and passes everything
        # (an outage that ends: a restarting server, a network blip)
        self.back_after, self.back = back_after, asyncio.Event()
        self._closing = False

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._conn, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc):
        self._closing = True
        self.cut()

    def cut(self) -> None:
        first = not self.cut_done
        self.cut_done = True
        self.server.close()
        for w in self.conns:
            w.transport.abort()
        self.conns = []
        if first and self.back_after is not None and not self._closing:
            asyncio.get_running_loop().call_later(self.back_after, lambda: asyncio.ensure_future(self._reopen()))

    async def _reopen(self) -> None:
        if self._closing:
            return
        self.cut_after = None  # cut once
        self.cut_done = False
        self.server = await asyncio.start_server(self._conn, "127.0.0.1", self.port)
        self.back.set()

    async def _conn(self, reader, writer):
        if self.cut_done:
            writer.transport.abort()
            return
        up_r, up_w = await asyncio.open_connection(*self.target)
        self.conns += [writer, up_w]

        async def pipe(src, dst, upstream: bool):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
                    if upstream:
                        self.sent += len(data)
                        if self.cut_after is not None and self.sent >= self.cut_after:
                            self.cut()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_w, True), pipe(up_r, writer, False))
