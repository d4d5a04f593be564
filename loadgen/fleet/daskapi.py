"""The few Dask calls the fleet makes, typed (parts of distributed's API are not)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distributed import Client, Event, Future, Variable
from distributed.worker import thread_state as _thread_state  # type: ignore[attr-defined]


def connect(address: str, timeout_s: float) -> Client:
    return Client(address, timeout=timeout_s, set_as_default=False)  # type: ignore[no-untyped-call]


def close(client: Client) -> None:
    client.close()  # type: ignore[no-untyped-call]


def workers(client: Client) -> dict[str, dict[str, Any]]:
    """The cluster's workers now, by address, asked of the scheduler itself.

    ``Client.scheduler_info`` refreshes a cache and returns it, and the client's own
    periodic refresh writes that cache with no workers at all: read between the two, it
    says every worker has left while all of them run (it did, on a busy machine)."""
    scheduler = client.scheduler
    if scheduler is None:
        raise OSError("the Dask client is not connected")
    identity = client.sync(scheduler.identity, n_workers=-1)  # type: ignore[no-untyped-call]
    return dict(identity["workers"])


def set_event(client: Client, name: str) -> None:
    Event(name, client=client).set()  # type: ignore[no-untyped-call]


class Waiter:
    """A cluster-wide ``distributed.Event``, waited on in slices so the waiter can look around."""

    def __init__(self, client: Client, name: str) -> None:
        self.event = Event(name, client=client)  # type: ignore[no-untyped-call]

    def wait(self, timeout_s: float) -> bool:
        return bool(self.event.wait(timeout=timeout_s))  # type: ignore[no-untyped-call]


def subscribe(client: Client, topic: str, handler: Callable[[Any], None]) -> None:
    client.subscribe_topic(topic, handler)  # type: ignore[no-untyped-call]


def unsubscribe(client: Client, topic: str) -> None:
    client.unsubscribe_topic(topic)  # type: ignore[no-untyped-call]


def on_done(future: Future[Any], callback: Callable[[Future[Any]], None]) -> None:
    future.add_done_callback(callback)  # type: ignore[no-untyped-call]


def cancel(future: Future[Any]) -> None:
    future.cancel()  # type: ignore[no-untyped-call]


def current_task_key() -> str | None:
    """The key of the task this thread runs (None outside a task)."""
    key = getattr(_thread_state, "key", None)
    return None if key is None else str(key)


def set_variable(client: Client, name: str, value: int) -> None:
    Variable(name, client=client).set(value)  # type: ignore[no-untyped-call]


def get_variable(client: Client, name: str, timeout_s: float) -> int:
    return int(Variable(name, client=client).get(timeout=timeout_s))  # type: ignore[no-untyped-call]
