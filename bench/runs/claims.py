"""Claims on cells, so that two workers (processes, or machines sharing a results folder) never run the same cell.

Usage:
    with claimed(run_dir, cell) as claim:     # claim: None when this worker holds the cell, else the holder's claim
        if claim is None:
            ...                                # run the cell; check first that nobody finished it meanwhile

A claim is ``cells/<cell>.claim``, created exclusively (O_CREAT | O_EXCL: atomic on a local disk and on NFS v3+)
and holding {"owner": "<host>:<pid>", "since", "heartbeat"}. While the cell runs a thread renews the heartbeat
every HEARTBEAT_S; the claim goes when the cell ends. A claim whose heartbeat is older than STALE_S, or whose
owner is a dead process of this host, is stale (a worker killed with SIGKILL, a machine gone): the next worker
takes it over, inside a short takeover lock, so that two workers finding one stale claim never both take it.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path

from ..results import atomic_write

HEARTBEAT_S = 15.0
STALE_S = 120.0


def owner_id() -> str:
    """Usage: owner_id() -> "host:pid" of this worker."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_path(run_dir: Path, cell: str) -> Path:
    return Path(run_dir) / "cells" / f"{cell}.claim"


def read_claim(path: Path) -> dict | None:
    """Usage: read_claim(path) -> the claim, {} for an unreadable one (its file's age stands for its heartbeat),
    None when there is no claim."""
    try:
        text = path.read_text(encoding="utf-8")
        age = path.stat().st_mtime
    except FileNotFoundError:
        return None
    try:
        claim = json.loads(text)
    except json.JSONDecodeError:  # created but not yet (or never) written: judged by the file's time
        return {"heartbeat": age}
    return claim if isinstance(claim, dict) else {"heartbeat": age}


def is_stale(claim: dict) -> bool:
    """Usage: is_stale(read_claim(path)) -> whether the claim's owner has stopped (no heartbeat for STALE_S, or a
    process of this host that no longer exists)."""
    if time.time() - float(claim.get("heartbeat", 0.0)) > STALE_S:
        return True
    host, _, pid = str(claim.get("owner", "")).rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, under another user
            return False
    return False


def _content(since: float) -> str:
    return json.dumps({"owner": owner_id(), "since": since, "heartbeat": time.time()})


def try_claim(path: Path) -> dict | None:
    """Usage: try_claim(path) -> None when this worker now holds the claim, else the live holder's claim."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return take_over(path)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(_content(time.time()))
    return None


def take_over(path: Path) -> dict | None:
    """A claim that exists: held by a live worker (its claim is returned) or stale (taken, None returned)."""
    claim = read_claim(path)
    if claim is not None and not is_stale(claim):
        return claim
    lock = path.with_name(path.name + ".takeover")
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:  # another worker is taking it over now (or died doing so: its lock goes stale too)
        if time.time() - lock.stat().st_mtime > STALE_S:
            lock.unlink(missing_ok=True)
        return claim or {"owner": "another worker taking it over"}
    try:
        claim = read_claim(path)  # again, under the lock: the owner may have renewed or finished meanwhile
        if claim is not None and not is_stale(claim):
            return claim
        with atomic_write(path) as out:
            out.write(_content(time.time()))
        return None
    finally:
        lock.unlink(missing_ok=True)


def _renew(path: Path, stop: threading.Event) -> None:
    since = time.time()
    while not stop.wait(HEARTBEAT_S):
        claim = read_claim(path)
        if claim is None or claim.get("owner") != owner_id():
            return  # taken over (this worker was stalled past STALE_S): stop renewing someone else's claim
        with atomic_write(path) as out:
            out.write(json.dumps({**claim, "heartbeat": time.time(), "since": claim.get("since", since)}))


@contextlib.contextmanager
def claimed(run_dir: Path, cell: str):
    """Usage: see module docstring."""
    path = claim_path(run_dir, cell)
    holder = try_claim(path)
    if holder is not None:
        yield holder
        return
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(path, stop), daemon=True)
    renewer.start()
    try:
        yield None
    finally:
        stop.set()
        renewer.join()
        if (read_claim(path) or {}).get("owner") == owner_id():
            path.unlink(missing_ok=True)
