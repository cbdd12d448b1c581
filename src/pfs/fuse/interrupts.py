"""Whether the program waiting for a FUSE answer wants to stop waiting.

pyfuse3 (3.5) registers no handler for the kernel's ``FUSE_INTERRUPT``, and once a request has
reached the daemon the kernel waits for its answer even through SIGKILL (the caller sits in D
state). So a read that may wait forever (a live stream) asks the kernel about its caller
instead: ``/proc/PID/status`` lists the signals pending for it. A pending SIGKILL (the kernel
adds one for every signal whose default action kills) or a pending signal the program catches
and has not blocked means the program is being killed or has a handler to run: the read then
answers EINTR. Other pending signals (a stop, an ignored one) leave the read waiting.
"""

from __future__ import annotations

import signal

_SIGKILL = 1 << (signal.SIGKILL - 1)


def _masks(status: str) -> dict[str, int]:
    masks = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("SigPnd", "ShdPnd", "SigBlk", "SigCgt"):
            masks[key] = int(value.strip(), 16)
    return masks


def caller_interrupted(pid: int) -> bool:
    """True when process (thread) ``pid`` is gone, being killed, or has a signal to handle."""
    if pid <= 0:  # the caller lives in a pid namespace this process cannot see
        return False
    try:
        with open(f"/proc/{pid}/status") as f:
            masks = _masks(f.read())
    except (FileNotFoundError, ProcessLookupError):
        return True
    pending = masks.get("SigPnd", 0) | masks.get("ShdPnd", 0)
    if pending & _SIGKILL:
        return True
    return bool(pending & ~masks.get("SigBlk", 0) & masks.get("SigCgt", 0))
