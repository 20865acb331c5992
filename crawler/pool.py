"""Extraction off the reactor: a pool of worker processes that survives crashing and hanging pages.

trafilatura is CPU-bound; run in a Scrapy callback it stalls every download. Here each worker
process extracts one page at a time; a manager thread feeds idle workers from a queue and
resolves each page's future as its result arrives (order of completion). A worker that dies on
a page (segfault in a C parser, out of memory) or runs past the time limit is killed and
replaced; that page fails with a typed reason and the crawl goes on.

Why not ``concurrent.futures.ProcessPoolExecutor``: one dead worker breaks the whole executor
(every pending future fails with BrokenProcessPool), and it cannot time out or kill a single
hung task.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, Pipe, wait
from typing import Any

from crawler.extract.errors import ExtractionError
from crawler.extract.options import ExtractOptions
from crawler.memory import release_free_memory
from storage.article import Article

logger = logging.getLogger(__name__)

#: Seconds one page may take before its worker is killed: real pages take well under a second;
#: a page past this is pathological (regex backtracking, a 5 MB single line).
DEFAULT_TIMEOUT = 30.0

#: A worker hands its heap's free pages back to the system after this many pages
#: (crawler.memory): about every 10 s at 50 ms a page, for a few milliseconds.
WORKER_TRIM_PAGES = 200


class PoolClosed(RuntimeError):
    """The pool was shut down before the page was extracted."""


@dataclass(frozen=True, slots=True)
class Task:
    html: bytes
    url: str
    http_encoding: str | None = None
    #: The page's site options; None: the pool's. One pool serves several sites this way (a
    #: cluster worker keeps one pool for every run it joins).
    options: ExtractOptions | None = None


@dataclass(slots=True)
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    busy: tuple[int, Task] | None = None
    started: float = 0.0
    ready: bool = False
    """Set when the worker has imported the extractor: start-up is not charged to a page."""


def _work(conn: Connection, options: ExtractOptions, target: str) -> None:
    """Worker loop: receive (id, Task), send (id, "ok", Article, counters) or (id, "error",
    reason, msg). The target returns an Article, or an Article and its extraction Report."""
    fn = _resolve(target)
    conn.send(("ready",))
    pages = 0
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the crawler went away
            return
        if message is None:
            return
        task_id, task = message
        try:
            result = fn(
                task.html, task.url, task.options or options, http_encoding=task.http_encoding
            )
            if isinstance(result, tuple):
                # extract_with_report: the Article and the counters of its Report.
                article, report = result
                conn.send((task_id, "ok", article, report.counters()))
            else:
                conn.send((task_id, "ok", result, {}))
        except ExtractionError as exc:
            conn.send((task_id, "error", exc.reason, str(exc)))
        except Exception as exc:  # a bug in extraction must fail the page, not the worker
            conn.send((task_id, "error", "extract_bug", f"{type(exc).__name__}: {exc}"))
        pages += 1
        if pages % WORKER_TRIM_PAGES == 0:
            release_free_memory()


def worker_main(fd: int) -> None:
    """Entry point of a worker process (``python -c``, see ``ExtractionPool._spawn``): the first
    message on the socket ``fd`` is (sys.path, options, target)."""
    # Ctrl-C reaches the whole process group; the crawler decides how to stop, the worker
    # ends when its socket closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(fd)
    try:
        path, options, target = conn.recv()
    except (EOFError, OSError):
        return
    sys.path[:] = path
    _work(conn, options, target)


def spawn_python(
    module: str, function: str, first: Any
) -> tuple[subprocess.Popen[bytes], Connection]:
    """``module.function(fd)`` in a fresh interpreter, with a socket to it (``fd`` its end);
    ``first`` is the first message sent. Not fork (forking a process that runs Twisted's
    reactor and threads is unsafe) and not multiprocessing's spawn, whose resource-tracker
    process and re-import of the main module cost about 20 MB for nothing used."""
    parent, child = socket.socketpair()
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"from {module} import {function}; {function}({child.fileno()})",
            ],
            pass_fds=[child.fileno()],
            stdin=subprocess.DEVNULL,
            close_fds=True,
        )
    finally:
        child.close()
    conn = Connection(parent.detach())
    conn.send(first)
    return process, conn


def _resolve(target: str) -> Callable[..., Any]:
    """The extraction function by dotted name (tests substitute one that hangs or crashes)."""
    module, _, name = target.partition(":")
    mod = __import__(module, fromlist=[name])
    fn: Callable[..., Any] = getattr(mod, name)
    return fn


@dataclass(slots=True)
class PoolStats:
    done: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    restarts: int = 0
    notes: Counter[str] = field(default_factory=Counter)
    """Sums of the extraction reports' counters (`crawler.extract.report.Report.counters`)."""


class ExtractionPool:
    """``submit(task) -> Future[Article]``; the future fails with ExtractionError on a bad page."""

    def __init__(
        self,
        options: ExtractOptions,
        workers: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        target: str = "crawler.extract.core:extract_with_report",
    ) -> None:
        self.options = options
        self.size = max(1, workers or os.cpu_count() or 1)
        self.timeout = timeout
        self.target = target
        self.stats = PoolStats()
        self._queue: deque[tuple[int, Task, Future[Article]]] = deque()
        self._futures: dict[int, Future[Article]] = {}
        self._notes: dict[int, Counter[str]] = {}
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = Pipe(duplex=False)
        self._next_id = 0
        self._closed = False
        # One process to begin with; more, up to ``size``, when pages wait and every process
        # is busy (`_grow`). A crawl with one request in flight, or a slow portal, never needs
        # the second: each costs a start-up (~0.3 s of CPU) and ~45 MB it would not use.
        self._workers = [self._spawn()]
        self._thread = threading.Thread(
            target=self._manage, name="zhengwen-extract-pool", daemon=True
        )
        self._thread.start()

    # --- public -------------------------------------------------------------------------------

    def submit(self, task: Task, notes: Counter[str] | None = None) -> Future[Article]:
        """``notes``: also add the page's report counters there (a caller sharing the pool
        with others keeps its own sums; `stats.notes` has everyone's)."""
        future: Future[Article] = Future()
        with self._lock:
            if self._closed:
                raise PoolClosed("the extraction pool is closed")
            self._next_id += 1
            self._queue.append((self._next_id, task, future))
            if notes is not None:
                self._notes[self._next_id] = notes
        self._wake()
        return future

    @property
    def processes(self) -> int:
        """Extraction processes running now (they start on demand, up to ``size``)."""
        return len(self._workers)

    def close(self) -> None:
        """Finish queued pages, then stop the workers."""
        with self._lock:
            self._closed = True
        self._wake()
        self._thread.join()
        for worker in self._workers:
            self._stop(worker)
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- manager thread -----------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        process, conn = spawn_python(
            "crawler.pool", "worker_main", (list(sys.path), self.options, self.target)
        )
        return _Worker(process, conn)

    @staticmethod
    def _exit_code(worker: _Worker) -> int | None:
        """The exit status of a worker whose socket closed (it is exiting; give it a moment)."""
        try:
            return worker.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return None

    def _wake(self) -> None:
        try:
            self._wake_w.send_bytes(b"!")
        except OSError:
            pass

    def _stop(self, worker: _Worker, kill: bool = False) -> None:
        if not kill:
            try:
                worker.conn.send(None)
            except OSError:
                pass
            try:
                worker.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if worker.process.poll() is None:
            worker.process.kill()
            try:
                worker.process.wait(timeout=5)
            except subprocess.TimeoutExpired:  # unkillable (stuck in the kernel): leave it
                logger.warning("Extraction worker %s did not exit", worker.process.pid)
        worker.conn.close()

    def _fail(self, future: Future[Article], reason: str, message: str) -> None:
        self.stats.failed[reason] = self.stats.failed.get(reason, 0) + 1
        if not future.done():
            future.set_exception(ExtractionError(message, reason=reason))

    def _replace(self, index: int, reason: str, message: str) -> None:
        worker = self._workers[index]
        if worker.busy is not None:
            task_id, task = worker.busy
            future = self._futures.pop(task_id, None)
            with self._lock:
                self._notes.pop(task_id, None)
            if future is not None:
                self._fail(future, reason, f"{message}: {task.url}")
            logger.warning("Extraction worker %s on %s; replaced", reason, task.url)
        self._stop(worker, kill=True)
        self.stats.restarts += 1
        self._workers[index] = self._spawn()

    def _grow(self) -> None:
        """Start one more process when pages are waiting and every process is busy (one
        that is still starting will take the next page)."""
        if len(self._workers) >= self.size:
            return
        if any(w.busy is None for w in self._workers):
            return
        with self._lock:
            waiting = bool(self._queue)
        if waiting:
            self._workers.append(self._spawn())

    def _dispatch(self) -> None:
        self._dispatch_ready()
        self._grow()

    def _dispatch_ready(self) -> None:
        for worker in self._workers:
            if worker.busy is not None or not worker.ready:
                continue
            with self._lock:
                if not self._queue:
                    return
                task_id, task, future = self._queue.popleft()
                if not future.set_running_or_notify_cancel():
                    self._notes.pop(task_id, None)
                    continue
            self._futures[task_id] = future
            worker.busy = (task_id, task)
            worker.started = time.monotonic()
            worker.conn.send((task_id, task))

    def _receive(self, worker: _Worker) -> None:
        message = worker.conn.recv()
        if message == ("ready",):
            worker.ready = True
            return
        task_id = message[0]
        worker.busy = None
        future = self._futures.pop(task_id, None)
        with self._lock:
            sink = self._notes.pop(task_id, None)
        if future is None:
            return
        if message[1] == "ok":
            self.stats.done += 1
            self.stats.notes.update(message[3])
            if sink is not None:
                sink.update(message[3])
            future.set_result(message[2])
        else:
            self._fail(future, message[2], message[3])

    def _manage(self) -> None:
        while True:
            self._dispatch()
            with self._lock:
                finished = self._closed and not self._queue
            if finished and all(w.busy is None for w in self._workers):
                return
            busy = [w for w in self._workers if w.busy is not None]
            deadline = min((w.started + self.timeout for w in busy), default=None)
            wait_for = None if deadline is None else max(0.0, deadline - time.monotonic())
            handles: list[Any] = [self._wake_r]
            handles += [w.conn for w in self._workers]
            ready = wait(handles, timeout=wait_for)
            if self._wake_r in ready:
                while self._wake_r.poll():
                    self._wake_r.recv_bytes()
            for index, worker in enumerate(self._workers):
                if worker.conn in ready:
                    try:
                        self._receive(worker)
                    except (EOFError, OSError):
                        self._replace(
                            index, "extract_crash", f"worker exited ({self._exit_code(worker)})"
                        )
                        continue
                if worker.busy is not None and time.monotonic() - worker.started > self.timeout:
                    self._replace(index, "extract_timeout", f"no result in {self.timeout:.0f}s")
