"""``with`` support shared by the objects that hold a connection."""

from __future__ import annotations

from typing import Self


class Closeable:
    """Mix-in: ``with obj:`` calls ``obj.close()`` on the way out.

    >>> class Door(Closeable):
    ...     def close(self) -> None:
    ...         print("closed")
    >>> with Door():
    ...     pass
    closed
    """

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
