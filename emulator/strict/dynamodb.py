"""DynamoDB's atomicity, which moto does not keep across threads.

AWS applies each write, conditional or not, and each transaction as one atomic, isolated step: two
conditional writes to one item never both succeed ("Condition expressions", "TransactWriteItems").
moto checks a condition and writes in plain Python, so two executions' threads can both pass the
same condition; its TransactGetItems reads item by item, so a transaction can land between two of its
reads, where AWS returns one snapshot ("TransactGetItems"). Serializing moto's DynamoDB operations, and
the whole of TransactGetItems, gives them AWS's isolation.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

OPERATIONS = ("put_item", "get_item", "update_item", "delete_item", "query", "scan", "transact_write_items")
_lock = threading.RLock()


@contextmanager
def atomic_dynamodb() -> Iterator[None]:
    originals: list[tuple[type, str, Any]] = [(DynamoDBBackend, name, getattr(DynamoDBBackend, name))
                                              for name in OPERATIONS]
    originals.append((DynamoHandler, "transact_get_items", DynamoHandler.transact_get_items))
    for owner, name, original in originals:
        setattr(owner, name, _serialized(original))
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def _serialized(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def serialized(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return operation(*args, **kwargs)
    return serialized
