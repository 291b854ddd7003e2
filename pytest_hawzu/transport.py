"""A requests session that the test suite's own HTTP fakes and log captures cannot reach.

Test suites fake HTTP by patching requests and urllib3 classes while a test
runs: responses replaces ``HTTPAdapter.send``, requests-mock ``Session.send``
and ``Session.get_adapter``, vcrpy and pytest-recording the connection
factories of urllib3's pools, and many suites patch ``Session.request`` or
a pool's ``urlopen``. The
sender thread talks to Hawzu while those tests run; through the patched
classes its requests would be answered by the fakes, counted in the tests'
assertions or recorded into their cassettes. The classes here hold the
originals, taken when this module is imported, before any test runs.

Likewise, urllib3 logs every request at DEBUG, and pytest's log capture
takes records from every thread: a test that looks at ``caplog`` would find
the uploads in its own records. `quiet()` drops the records that requests
and urllib3 make during the plugin's own calls, in whichever thread, unless
HAWZU_LOG_HTTP asks to see them.

Imported only where the plugin reports: a run that does not never pays for
requests.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

from pytest_hawzu.forks import InChild

# Bound once, as a test that patches them for itself must not change the plugin's.
_Lock = threading.Lock
_Condition = threading.Condition


class _Queue(queue.LifoQueue):  # type: ignore[type-arg]
    """A pool's idle connections, with locks of its own in a forked child.

    urllib3 closes a pool's connections when the pool goes, and at exit, under
    this queue's lock. A sender thread handing a connection back as a test
    forks leaves that lock held in the child, which has no such thread: a
    child that goes on with the session, and exits as Python does (no
    os._exit), would wait for it for ever.
    """

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        _queues.add(self)

    def _after_fork_in_child(self) -> None:
        self.mutex = _Lock()
        self.not_empty = _Condition(self.mutex)
        self.not_full = _Condition(self.mutex)
        self.all_tasks_done = _Condition(self.mutex)


_queues = InChild(_Queue._after_fork_in_child)


# What vcrpy patches on urllib3's pools: the connection class and the two
# methods that make and hand out connections; and what hand-made mocks one
# level below requests patch: the request methods.
class _Pool(HTTPConnectionPool):
    QueueCls = _Queue
    ConnectionCls = HTTPConnection
    _new_conn = HTTPConnectionPool._new_conn
    _get_conn = HTTPConnectionPool._get_conn
    urlopen = HTTPConnectionPool.urlopen
    _make_request = HTTPConnectionPool._make_request


class _TLSPool(HTTPSConnectionPool):
    QueueCls = _Queue
    ConnectionCls = HTTPSConnection
    _new_conn = HTTPSConnectionPool._new_conn
    _get_conn = HTTPConnectionPool._get_conn
    urlopen = HTTPConnectionPool.urlopen  # type: ignore[assignment]
    _make_request = HTTPConnectionPool._make_request


_POOLS = {"http": _Pool, "https": _TLSPool}


def _own_pools(manager: PoolManager) -> PoolManager:
    # A SOCKS proxy manager has pools of its own kind: leave it as it is.
    if manager.pool_classes_by_scheme.get("http") is HTTPConnectionPool:
        manager.pool_classes_by_scheme = _POOLS
    return manager


class _Adapter(HTTPAdapter):
    send = HTTPAdapter.send

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _own_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        return _own_pools(super().proxy_manager_for(proxy, **proxy_kwargs))


class _Session(requests.Session):
    request = requests.Session.request
    send = requests.Session.send
    get_adapter = requests.Session.get_adapter


def session() -> requests.Session:
    """A new session, with adapters and pools of its own."""
    own = _Session()
    own.mount("https://", _Adapter())
    own.mount("http://", _Adapter())
    return own


# Loggers a request passes through; a filter on a logger applies to its own
# records only, not to its children's.
_CHATTY = (
    "requests",
    "urllib3",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "charset_normalizer",
)


class _Quiet(logging.Filter):
    """Drops records made while the current thread is inside `quiet()`."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.local, "on", False)


_QUIET = _Quiet()
for _name in _CHATTY:
    logging.getLogger(_name).addFilter(_QUIET)


# For debugging a proxy or TLS problem: the plugin's requests in the logs again.
LOG_HTTP_ENV = "HAWZU_LOG_HTTP"


_OFF = ("", "0", "false", "no", "off")


def quieter() -> Callable[[], AbstractContextManager[None]]:
    """What a client wraps each call in: `quiet`, or nothing when HAWZU_LOG_HTTP is on."""
    shown = os.environ.get(LOG_HTTP_ENV, "").strip().lower() not in _OFF
    return nullcontext if shown else quiet


@contextmanager
def quiet() -> Iterator[None]:
    """Make one of the plugin's own calls without a log record of it."""
    _QUIET.local.on = True
    try:
        yield
    finally:
        _QUIET.local.on = False
