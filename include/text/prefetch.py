"""Read ahead on a background thread: one stage of a stream (reading and tokenizing text, decoding
Parquet) runs while the caller's thread handles the previous item (writing it), so a step uses a
second core where both stages spend their time in code that releases the GIL (Arrow, zstd, file
I/O). Order, items and errors are those of the stream itself."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Raised:
    """The stream's exception, carried to the caller's thread."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterable[T], depth: int = 2, name: str = "prefetch") -> Iterator[T]:
    """Yield the items of ``items`` in order, producing up to ``depth`` of them ahead on a
    background thread named ``name``.

    An exception raised while producing an item is raised here, at that item, with its traceback.
    When the caller stops early (``break``, an exception, closing this generator), the producer
    stops after the item it is on and the source is closed on its own thread; this generator
    returns only once that thread has ended, so nothing reads the source afterwards.
    Memory: at most ``depth`` + 2 items alive at once (queued, being produced, being consumed).
    """
    if depth < 1:
        raise ValueError(f"depth={depth} must be at least 1")
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item) -> bool:
        """Put ``item`` in the queue unless the caller stopped; True when it was put."""
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as error:  # carried to the caller, raised there
            offer(_Raised(error))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    producer = threading.Thread(target=produce, name=name, daemon=True)
    producer.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item
            del item
    finally:
        stop.set()
        producer.join()
