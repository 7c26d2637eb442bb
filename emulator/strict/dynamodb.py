"""DynamoDB's atomicity, which moto does not keep across threads.

AWS applies each write, conditional or not, and each transaction as one atomic, isolated step: two
conditional writes to one item never both succeed ("Condition expressions", "TransactWriteItems").
moto checks a condition and writes in plain Python, so two executions' threads can both pass the
same condition. Serializing moto's DynamoDB operations gives them AWS's isolation.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

OPERATIONS = ("put_item", "get_item", "update_item", "delete_item", "query", "scan", "transact_write_items")
_lock = threading.RLock()


@contextmanager
def atomic_dynamodb() -> Iterator[None]:
    originals = {name: getattr(DynamoDBBackend, name) for name in OPERATIONS}
    for name, original in originals.items():
        setattr(DynamoDBBackend, name, _serialized(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(DynamoDBBackend, name, original)


def _serialized(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def serialized(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return operation(*args, **kwargs)
    return serialized
