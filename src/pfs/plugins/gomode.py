"""Go ``os.FileMode`` bits: the mode encoding localfs answers with (PLUGINS.md §2.11)."""

from __future__ import annotations

import stat as st

GO_DIR = 1 << 31
GO_SYMLINK = 1 << 27
GO_DEVICE = 1 << 26
GO_NAMED_PIPE = 1 << 25
GO_SOCKET = 1 << 24
GO_SETUID = 1 << 23
GO_SETGID = 1 << 22
GO_CHAR_DEVICE = 1 << 21
GO_STICKY = 1 << 20
GO_IRREGULAR = 1 << 19

_TYPE_BITS = (
    (st.S_ISDIR, GO_DIR),
    (st.S_ISLNK, GO_SYMLINK),
    (st.S_ISBLK, GO_DEVICE),
    (st.S_ISCHR, GO_DEVICE | GO_CHAR_DEVICE),
    (st.S_ISFIFO, GO_NAMED_PIPE),
    (st.S_ISSOCK, GO_SOCKET),
)


def go_file_mode(st_mode: int) -> int:
    """``st_mode`` → Go FileMode as uint32: a 0755 directory is ``2147484141``."""
    mode = st_mode & 0o777
    if st_mode & st.S_ISUID:
        mode |= GO_SETUID
    if st_mode & st.S_ISGID:
        mode |= GO_SETGID
    if st_mode & st.S_ISVTX:
        mode |= GO_STICKY
    if st.S_ISREG(st_mode):
        return mode
    for test, bits in _TYPE_BITS:
        if test(st_mode):
            return mode | bits
    return mode | GO_IRREGULAR


def unix_mode_bits(mode: int) -> int:
    """A chmod argument (Go FileMode bits or plain Unix bits) → the bits for ``os.chmod``."""
    bits = mode & 0o7777
    if mode & GO_SETUID:
        bits |= st.S_ISUID
    if mode & GO_SETGID:
        bits |= st.S_ISGID
    if mode & GO_STICKY:
        bits |= st.S_ISVTX
    return bits
