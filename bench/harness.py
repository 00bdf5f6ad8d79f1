"""What every benchmark here shares: A/B-alternated timing, medians and spread, peak memory, the machine, JSON.

Timings come from shared machines (other people's jobs on the same CPU cores), so no number is taken alone: the
candidates (ours, HF) are run in alternation, round after round, in an order that flips every round (AB, BA,
AB...), so a change of load hits both; each side is reported as median, min and max over the rounds, and the
comparison as the median of the per-round ratios.
"""

import ctypes
import json
import platform
import statistics
import threading
import time
from pathlib import Path

import psutil
import torch
import transformers

from hf_transformer101.files import write_atomically

# Dense bf16 peak of the GPUs we know, for MFU (model FLOPs utilisation). The H200 is an H100 with more memory:
# same chip, same 989 TFLOP/s.
GPU_PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def gpu_peak_flops(device):
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in GPU_PEAK_BF16_FLOPS.items() if key in name), None)


def synchronize(device):
    """CUDA runs asynchronously: a timer must wait for the queued kernels, or it measures only their launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def alternate(candidates, *, rounds, warmup, device):
    """{name: fn} -> {name: [seconds per call, one per round]}, after `warmup` untimed calls of each.

    Round r runs the candidates in order, or reversed when r is odd (AB BA AB ...): neither side always runs
    right after the other, so a slow drift in load or in caches favours neither.
    """
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    synchronize(device)
    seconds = {name: [] for name in candidates}
    names = list(candidates)
    for round_index in range(rounds):
        for name in names if round_index % 2 == 0 else reversed(names):
            synchronize(device)
            start = time.perf_counter()
            candidates[name]()
            synchronize(device)
            seconds[name].append(time.perf_counter() - start)
    return seconds


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "samples": values}


def compare(seconds, *, work, unit, higher_is_better, baseline="hf"):
    """Per candidate: `work / seconds` (e.g. tokens/s) or `seconds / work` (e.g. ms/token) with its spread, and
    `speedup`: the median over rounds of the baseline's time / the candidate's time (> 1: the candidate is faster).
    """
    result = {}
    for name, times in seconds.items():
        values = [work / t for t in times] if higher_is_better else [1000 * t / work for t in times]
        result[name] = {"unit": unit, **spread(values)}
        if name != baseline and baseline in seconds:
            result[name]["speedup"] = statistics.median(b / t for b, t in zip(seconds[baseline], times))
    return result


def _release_free_heap():
    """Give the pages of freed memory back to the OS (glibc's malloc_trim), so that RSS counts live memory only:
    otherwise a block freed by an earlier step is reused without growing RSS and the next peak is under-read."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: RSS is then an upper bound less tight


class _RSSSampler(threading.Thread):
    """Polls the process RSS every millisecond; `peak` holds the highest value seen. Where the kernel keeps no
    resettable high-water mark (not Linux): a peak shorter than a millisecond can slip between two polls."""

    def __init__(self):
        super().__init__(daemon=True)
        self.process, self.peak, self.running = psutil.Process(), 0, True

    def run(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.001)


_STATUS, _CLEAR_REFS = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def _reset_rss_high_water_mark():
    """Linux keeps the process's peak RSS (VmHWM in /proc/self/status) and resets it to the current RSS when "5"
    is written to /proc/self/clear_refs (Linux >= 4.0): the exact peak of a call, where polling RSS can miss a
    short one. Returns whether it could.

    What it cannot remove: RSS also holds pages that glibc's heap keeps after a free and cannot always reuse, and
    how many depends on what the process ran before. A Seq2Seq bf16 CPU step whose allocated bytes peak at 96 MiB
    read 118-132 MiB depending on the run, stable within one. (Fixing glibc's mmap threshold at 128 KiB for the
    measurement made it read 96 every time; but mallopt cannot give glibc its own moving threshold back, so the
    steps timed afterwards ran under another allocator regime — HF's bf16 GPT step with GPT-2's vocabulary read
    1,005-1,076 tokens/s in the two runs with it, 1,237 without, within that size's noise but not worth the
    doubt. Not kept.)"""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def _rss_high_water_mark():
    """VmHWM in bytes (the kernel writes it in kB)."""
    line = next(line for line in _STATUS.read_text().splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def peak_memory(fn, device):
    """Bytes that `fn()` needs on top of what is already held: the CUDA allocator's peak on GPU, the peak process
    RSS on CPU (torch has no CPU allocator statistics): the kernel's high-water mark on Linux, else polled. Weights
    and optimizer state held before the call are not counted, so two models living side by side do not disturb
    each other's figure."""
    if device.type == "cuda":
        synchronize(device)
        held = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - held
    _release_free_heap()
    held = psutil.Process().memory_info().rss
    if _reset_rss_high_water_mark():
        fn()
        return max(_rss_high_water_mark() - held, 0)
    sampler = _RSSSampler()
    sampler.start()
    try:
        fn()
    finally:
        sampler.running = False
        sampler.join()
    return max(sampler.peak - held, 0)


def machine(device):
    info = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
            "cpu_count": psutil.cpu_count(), "torch_threads": torch.get_num_threads()}
    try:  # the model name is more telling than `platform.processor()` on Linux
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                           if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def write_json(path, data):
    """Write atomically: a crash mid-write leaves the previous file, not half a JSON."""
    write_atomically(path, json.dumps(data, indent=2) + "\n")
