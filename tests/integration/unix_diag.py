"""Figures the kernel keeps for each Unix datagram socket, read through NETLINK_SOCK_DIAG
(what `ss -x` reads): for the tests (an Apache child's event socket's send buffer and
peer) and for
bench/loss_bench.py (the bytes a sender has in flight)."""

from __future__ import annotations

import os
import socket
import struct

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST_DUMP = 0x301
NLMSG_ERROR, NLMSG_DONE = 2, 3

# unix_diag_req's `show` flags and the attribute each one adds (linux/unix_diag.h).
UDIAG_SHOW_PEER, UNIX_DIAG_PEER = 0x04, 2          # u32 inode of the peer
UDIAG_SHOW_RQLEN, UNIX_DIAG_RQLEN = 0x10, 4        # u32 rqueue, u32 wqueue
UDIAG_SHOW_MEMINFO, UNIX_DIAG_MEMINFO = 0x20, 5    # u32[SK_MEMINFO_*]
SK_MEMINFO_SNDBUF = 3


def unix_dgram_attribute(show: int, attribute: int, fmt: str) -> dict[int, tuple]:
    """inode -> `attribute` of every Unix datagram socket on the machine, unpacked with
    `fmt` (struct format) from its start; sockets without it are left out."""
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    try:
        # unix_diag_req: family, protocol, pad, states (all), ino, show, cookie
        req = struct.pack("=BBHIIIII", socket.AF_UNIX, 0, 0, 0xFFFFFFFF, 0, show,
                          0xFFFFFFFF, 0xFFFFFFFF)
        nl.sendto(struct.pack("=IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST_DUMP,
                              1, 0) + req, (0, 0))
        out: dict[int, tuple] = {}
        while True:
            data = nl.recv(1 << 20)
            off = 0
            while off + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, off)
                if kind == NLMSG_DONE:
                    return out
                if kind == NLMSG_ERROR:
                    raise OSError("sock_diag answered an error")
                _, stype, _, _, ino = struct.unpack_from("=BBBBI", data, off + 16)
                at = off + 32        # nlmsghdr (16) + unix_diag_msg (16)
                while stype == socket.SOCK_DGRAM and at + 4 <= off + length:
                    alen, atype = struct.unpack_from("=HH", data, at)
                    if alen < 4:
                        break
                    if atype == attribute:
                        out[ino] = struct.unpack_from(fmt, data, at + 4)
                    at += (alen + 3) & ~3
                off += (length + 3) & ~3
    finally:
        nl.close()


def unix_dgram_queues() -> dict[int, tuple[int, int]]:
    """inode -> (rqueue, wqueue): for an unbound sender wqueue is its bytes in flight
    (sk_wmem_alloc); for a receiver rqueue is the length of the first queued datagram
    (0: its queue is empty)."""
    return unix_dgram_attribute(UDIAG_SHOW_RQLEN, UNIX_DIAG_RQLEN, "=II")  # type: ignore[return-value]


def unix_dgram_sndbufs() -> dict[int, int]:
    """inode -> SO_SNDBUF (what `ss -x -m` shows as `tb`)."""
    info = unix_dgram_attribute(UDIAG_SHOW_MEMINFO, UNIX_DIAG_MEMINFO,
                                "=" + "I" * (SK_MEMINFO_SNDBUF + 1))
    return {ino: v[SK_MEMINFO_SNDBUF] for ino, v in info.items()}


def unix_dgram_peers() -> dict[int, int]:
    """inode -> the inode of the socket it is connected to (connected sockets only)."""
    return {ino: v[0] for ino, v in
            unix_dgram_attribute(UDIAG_SHOW_PEER, UNIX_DIAG_PEER, "=I").items()}


def socket_inodes(pid: int) -> set[int]:
    """The inodes of process `pid`'s sockets (empty when it is gone)."""
    out = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                out.add(int(link[8:-1]))
    except OSError:
        pass
    return out
