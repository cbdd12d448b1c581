"""The inode ↔ path table: PFS speaks paths, the kernel speaks inode numbers.

An inode number is handed out the first time the kernel learns of a path (``lookup``,
``readdir``, ``create``) and kept while the kernel holds a lookup count on it. A rename moves the
path of the inode and of every inode below it, so open handles keep reading and writing the file
under its new name.
"""

from __future__ import annotations

import pyfuse3

ROOT = pyfuse3.ROOT_INODE


def join(parent: str, name: str) -> str:
    return ("" if parent == "/" else parent) + "/" + name


class InodeTable:
    def __init__(self) -> None:
        self._path_of: dict[int, str] = {ROOT: "/"}
        self._inode_of: dict[str, int] = {"/": ROOT}
        self._lookups: dict[int, int] = {ROOT: 1}
        self._next = ROOT + 1

    def path(self, inode: int) -> str:
        """The current path of ``inode``; KeyError once the kernel has forgotten it."""
        return self._path_of[inode]

    def child(self, parent: int, name: str) -> str:
        return join(self._path_of[parent], name)

    def assign(self, path: str) -> int:
        """The inode for ``path``, new if unknown, without a kernel lookup on it yet."""
        inode = self._inode_of.get(path)
        if inode is None:
            inode = self._next
            self._next += 1
            self._inode_of[path] = inode
            self._path_of[inode] = path
            self._lookups[inode] = 0
        return inode

    def remember(self, path: str) -> int:
        """The inode for ``path`` with one more kernel lookup on it (lookup, create, mkdir)."""
        inode = self.assign(path)
        self._lookups[inode] += 1
        return inode

    def drop_unused(self, inode: int) -> None:
        """Forget an inode the kernel was never told about (readdir buffer was full)."""
        if self._lookups.get(inode) == 0:
            self.forget(inode, 0)

    def peek(self, path: str) -> int | None:
        return self._inode_of.get(path)

    def forget(self, inode: int, count: int) -> None:
        if inode == ROOT:
            return
        left = self._lookups.get(inode, 0) - count
        if left > 0:
            self._lookups[inode] = left
            return
        self._lookups.pop(inode, None)
        path = self._path_of.pop(inode, None)
        if path is not None and self._inode_of.get(path) == inode:
            del self._inode_of[path]

    def unlink(self, path: str) -> None:
        """The name is gone. Its inode stays counted until the kernel forgets it, but has no path
        any more: an open handle on it fails (ENOENT) instead of recreating the file or reaching
        a new file of the same name."""
        inode = self._inode_of.pop(path, None)
        if inode is not None and inode != ROOT:
            self._path_of.pop(inode, None)

    def rename(self, old: str, new: str) -> None:
        """Move ``old`` and everything below it to ``new`` (a replaced target loses its name)."""
        self.unlink(new)
        below = old + "/"
        moved = [p for p in self._inode_of if p == old or p.startswith(below)]
        for path in moved:
            inode = self._inode_of.pop(path)
            new_path = new + path[len(old) :]
            self._inode_of[new_path] = inode
            self._path_of[inode] = new_path

    def __len__(self) -> int:
        return len(self._path_of)
