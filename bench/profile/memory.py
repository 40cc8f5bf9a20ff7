"""Peak memory of one call, in MiB: on CPU the kernel's resident-set high-water mark, on CUDA the allocator's peak.

Usage:
    peak_mib, method = peak_rss_mib(lambda: step())    # CPU, inside a fresh process started with fresh_process_env()
    limit_address_space(8192)                          # CPU: allocations beyond 8 GiB more now fail (a memory cap)
    readings = cuda_peak_mib(lambda: step(), "cuda")   # {"peak_memory", "reserved_memory", "nvml_memory"}

Method: glibc is told to serve every allocation of 64 KiB or more with mmap (MALLOC_MMAP_THRESHOLD_), so freed
tensors go back to the kernel and the resident set tracks live memory; the kernel's high-water mark (VmHWM) is
reset by writing 5 to /proc/self/clear_refs just before the call, and peak = VmHWM - VmRSS(before). What this
counts: every byte the call touched on top of what was resident before it (its activations, saved tensors,
gradients, workspace); not the inputs built before it. That separates O(T) from O(T^2) growth where a torch-only
counter would miss native workspace. Where clear_refs is not writable, the fallback reads the process-wide peak
(ru_maxrss) after the call minus VmRSS before it: right when the call, or an identical warm-up call in the same
fresh process, set that peak; ``method`` says which was used.

The CPU memory cap is a limit on address space (RLIMIT_AS) set to what is mapped now plus the cap: an allocation
past it fails inside torch with "can't allocate memory", which the harness records as an ``oom`` row. Address
space counts a little more than resident memory (thread stacks, allocator reservations: tens of MiB), so the cap
errs on the safe side.

CUDA: ``torch.cuda.reset_peak_memory_stats``, the call, a synchronisation, then ``max_memory_allocated`` minus
what was allocated before (the tensors' own peak); ``max_memory_reserved`` minus reserved before (the caching
allocator's segments, what other processes lose); and an NVML reading of device-wide used memory, sampled every
millisecond by a thread during the call (peak minus the reading at the start: everything on the device,
including other processes and the CUDA context's workspaces), each in its own column.
"""
from __future__ import annotations

import contextlib
import gc
import os
import resource
import threading
import time
from pathlib import Path

import torch

MMAP_THRESHOLD = 65536
MIB = 2 ** 20


def fresh_process_env() -> dict:
    """Usage: subprocess.run(cmd, env=fresh_process_env()). The environment a measuring child must start with:
    large blocks on mmap (freed memory leaves the resident set), and two malloc arenas at most (each arena
    reserves 64 MiB of address space, which a memory cap would otherwise pay per thread)."""
    return {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "MALLOC_ARENA_MAX": "2"}


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def _reset_high_water_mark() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mib(fn) -> tuple[float, str]:
    """Usage: peak_rss_mib(fn) -> (MiB above the resident set before the call, method name)."""
    gc.collect()
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None:
        method_note = "+no-mmap-threshold"  # freed memory may be reused without showing: an underestimate
    else:
        method_note = ""
    if _reset_high_water_mark():
        before = _status_kib("VmRSS")
        fn()
        return (_status_kib("VmHWM") - before) / 1024, "vmhwm" + method_note
    try:  # the process-wide peak (this call, or an identical warm-up call before it) above the resident set now
        before = _status_kib("VmRSS")
    except OSError:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # no /proc: only a new peak shows
    fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, "ru_maxrss" + method_note


def limit_address_space(cap_mib: float) -> None:
    """Usage: limit_address_space(4096). From now on this process may map at most ``cap_mib`` MiB more. The
    thread pool is started first, so its stacks are not charged to the cap (nor refused by it)."""
    torch.randn(1 << 18).sum()  # big enough for a parallel reduction: every intra-op thread exists now
    mapped = _status_kib("VmSize") * 1024
    limit = mapped + int(cap_mib * MIB)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


@contextlib.contextmanager
def address_space_cap(cap_mib: float | None):
    """Usage: with address_space_cap(8192): run_cells(). The cap of limit_address_space, lifted on the way out
    (None: no cap)."""
    if not cap_mib:
        yield
        return
    before = resource.getrlimit(resource.RLIMIT_AS)
    limit_address_space(cap_mib)
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, before)


class NvmlSampler:
    """Usage: with NvmlSampler(read_used) as sampler: work(); sampler.peak_mib -> peak minus the starting reading.

    ``read_used`` returns the device's used bytes (``nvml_reader(device)`` gives one for a CUDA device); a thread
    polls it every ``interval`` seconds while the block runs.
    """

    def __init__(self, read_used, interval: float = 0.001):
        self.read_used, self.interval = read_used, interval
        self.start_bytes = self.peak_bytes = 0
        self.failed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_bytes = max(self.peak_bytes, self.read_used())
            except Exception:  # NVML went away mid-call: the reading is void, not zero
                self.failed = True
                return
            time.sleep(self.interval)

    def __enter__(self) -> "NvmlSampler":
        self.start_bytes = self.peak_bytes = self.read_used()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if not self.failed:
            self.peak_bytes = max(self.peak_bytes, self.read_used())

    @property
    def peak_mib(self) -> float | None:
        """MiB above the starting reading, or None when a reading failed (the column is then left out)."""
        return None if self.failed else (self.peak_bytes - self.start_bytes) / MIB


def nvml_reader(device: str | torch.device = "cuda"):
    """Usage: read = nvml_reader("cuda:0"); read() -> used bytes on that GPU, or None when NVML is not reachable.
    The NVML handle is found by the device's UUID, so CUDA_VISIBLE_DEVICES reordering cannot mislead it; where no
    UUID matches (a MIG slice, an old driver) the index is trusted only when CUDA_VISIBLE_DEVICES is unset."""
    try:
        import pynvml

        pynvml.nvmlInit()
        index = torch.device(device).index or 0
        uuid = str(getattr(torch.cuda.get_device_properties(index), "uuid", "")).removeprefix("GPU-")
        handle = None
        for i in range(pynvml.nvmlDeviceGetCount()):
            candidate = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetUUID(candidate)
            name = name.decode() if isinstance(name, bytes) else name
            if uuid and name.removeprefix("GPU-") == uuid:
                handle = candidate
        if handle is None:
            if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
                return None  # torch's index is relative to the visible devices: NVML's may be another GPU
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        return lambda: int(pynvml.nvmlDeviceGetMemoryInfo(handle).used)
    except Exception:  # pynvml missing, no driver, NVML refusing: the NVML column is simply absent
        return None


def cuda_peak_mib(fn, device: str | torch.device = "cuda", read_used=None) -> dict:
    """Usage: cuda_peak_mib(step, "cuda") -> {"peak_memory": MiB, "reserved_memory": MiB, "nvml_memory": MiB|None}."""
    gc.collect()
    torch.cuda.synchronize(device)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    allocated, reserved = torch.cuda.memory_allocated(device), torch.cuda.memory_reserved(device)
    read_used = read_used or nvml_reader(device)
    sampler = NvmlSampler(read_used) if read_used is not None else None
    with sampler if sampler is not None else contextlib.nullcontext():
        fn()
        torch.cuda.synchronize(device)
    return {"peak_memory": (torch.cuda.max_memory_allocated(device) - allocated) / MIB,
            "reserved_memory": (torch.cuda.max_memory_reserved(device) - reserved) / MIB,
            "nvml_memory": sampler.peak_mib if sampler is not None else None}

