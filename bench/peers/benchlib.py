"""Shared pieces of the benchmark peers (plain PyTorch on the CPU).

A peer is run by bench/lib/peer.ts as `/usr/bin/python3 bench/peers/<name>.py ARGS`:
it prints exactly one JSON object on stdout and any diagnostics on stderr.

Timings are returned as raw samples in milliseconds (with the machine load over the
timed runs); the TypeScript side summarises them with the same code it uses for its own
runs, so both sides share one statistic.
"""
import ctypes
import json
import os
import platform
import re
import sys
import time

import numpy as np
import torch

# Variables that select or tune OpenBLAS kernels; reported so a run shows what it ran under.
# Below this a 2-core machine is not running an optimised BLAS (OpenBLAS does ~150+ here, Netlib ~5).
SLOW_GFLOPS = 20.0

BLAS_ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def log(*parts):
    print("[peer]", *parts, file=sys.stderr, flush=True)


def setup_threads(n):
    """Intra-op threads for torch (and, through OpenMP, for OpenBLAS)."""
    torch.set_num_threads(n)
    return torch.get_num_threads()


def _read_jiffies():
    """(busy, total) jiffies of the whole machine from /proc/stat, or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


class LoadProbe:
    """Average machine load and this process's own CPU use between start and stop().

    Same definitions as bench/lib/load.ts: other_cores = machine busy cores - own cores.
    """

    def __init__(self):
        self.j0 = _read_jiffies()
        self.c0 = time.process_time()  # all threads of this process
        self.t0 = time.perf_counter()

    def stop(self):
        j1 = _read_jiffies()
        own = time.process_time() - self.c0
        wall = time.perf_counter() - self.t0
        if not self.j0 or not j1 or j1[1] <= self.j0[1] or wall <= 0:
            return None
        cores = os.cpu_count() or 1
        machine = (j1[0] - self.j0[0]) / (j1[1] - self.j0[1]) * cores
        own_cores = own / wall
        return {
            "wallMs": wall * 1000.0,
            "machineBusyCores": machine,
            "ownCores": own_cores,
            "otherCores": max(0.0, machine - own_cores),
            "cores": cores,
        }


def time_runs(fn, warmup, runs):
    """Runs fn `warmup` times untimed, then `runs` times timed.

    Returns {"samples_ms": [...], "load": LoadProbe result over the timed runs}.
    """
    for _ in range(warmup):
        fn()
    samples = []
    probe = LoadProbe()
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return {"samples_ms": samples, "load": probe.stop()}


# ---------------------------------------------------------------- safetensors

_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
_ELEMENT_BYTES = {"F32": 4, "F16": 2, "BF16": 2}


def load_safetensors(path):
    """Reads a .safetensors file with json + torch.frombuffer; every tensor comes back float32 and owns its memory."""
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    if len(raw) < 8:
        raise ValueError(f"{path}: truncated safetensors file")
    header_len = int.from_bytes(raw[:8], "little")
    if 8 + header_len > len(raw):
        raise ValueError(f"{path}: header length {header_len} runs past the end of the file")
    header = json.loads(raw[8 : 8 + header_len].decode("utf-8"))
    data_start = 8 + header_len
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = entry["dtype"]
        if dtype not in _DTYPES:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {dtype}")
        begin, end = entry["data_offsets"]
        shape = list(entry["shape"])
        count = int(np.prod(shape)) if shape else 1
        if end - begin != count * _ELEMENT_BYTES[dtype] or data_start + end > len(raw):
            raise ValueError(f"{path}: tensor {name} has inconsistent offsets")
        if count == 0:
            tensors[name] = torch.zeros(shape, dtype=torch.float32)
            continue
        t = torch.frombuffer(raw, dtype=_DTYPES[dtype], count=count, offset=data_start + begin).view(shape)
        # .to(float32) copies F16/BF16; .clone() copies F32 so nothing aliases the file buffer.
        tensors[name] = t.to(torch.float32) if dtype != "F32" else t.clone()
    del raw
    return tensors


# ---------------------------------------------------------------- BLAS report


def _mapped_libraries():
    """Shared objects mapped into this process (after a matmul has loaded the BLAS)."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and parts[-1].startswith("/") and ".so" in parts[-1]:
                    libs.add(parts[-1])
    except OSError:
        pass
    return sorted(libs)


def _is_blas_lib(path):
    base = os.path.basename(path).lower()
    return any(k in base for k in ("blas", "lapack", "mkl", "blis", "atlas", "flexiblas"))


def _openblas_info(path):
    """Config string, core name and threads of the OpenBLAS already loaded at `path` (not a fresh load)."""
    try:
        lib = ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_LAZY", 1))
    except OSError as err:
        return {"error": str(err)}
    info = {}
    for fn, key, restype in (
        ("openblas_get_config", "config", ctypes.c_char_p),
        ("openblas_get_corename", "corename", ctypes.c_char_p),
        ("openblas_get_num_threads", "threads", ctypes.c_int),
        ("openblas_get_parallel", "parallel", ctypes.c_int),
    ):
        f = getattr(lib, fn, None)
        if f is None:
            continue
        f.restype = restype
        f.argtypes = []
        value = f()
        info[key] = value.decode() if isinstance(value, bytes) else value
    if "parallel" in info:
        info["parallel"] = {0: "sequential", 1: "pthreads", 2: "openmp"}.get(info["parallel"], info["parallel"])
    return info


def _threadpoolctl_info():
    try:
        import threadpoolctl  # noqa: PLC0415 - optional
    except ImportError:
        return None
    try:
        return [
            {k: v for k, v in entry.items() if k in ("user_api", "internal_api", "filepath", "version", "num_threads", "threading_layer", "architecture")}
            for entry in threadpoolctl.threadpool_info()
        ]
    except Exception as err:  # pragma: no cover - diagnostics only
        return [{"error": str(err)}]


def _gemm_gflops(n=1024, repeats=3):
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best / 1e9


def _build_setting(show, key):
    """A `KEY=value` entry of torch.__config__.show()'s build settings."""
    match = re.search(r"\b" + re.escape(key) + r"=([^,\s]+)", show)
    return match.group(1) if match else None


def _cpu_capability(show):
    match = re.search(r"CPU capability usage:\s*(\S+)", show)
    return match.group(1) if match else None


def blas_report():
    """Which BLAS torch really runs on, how fast, and whether the result is fit to compare against.

    kind is one of openblas, mkl, blis, atlas, reference, unknown. `reference` (Netlib's
    libblas, ~30x slower) makes any ratio against this peer meaningless: warned loudly.
    """
    torch.mm(torch.randn(64, 64), torch.randn(64, 64))  # make sure the BLAS is loaded
    show = torch.__config__.show()
    libs = [p for p in _mapped_libraries() if _is_blas_lib(p)]
    real = {p: os.path.realpath(p) for p in libs}
    names = " ".join(list(real.keys()) + list(real.values())).lower()
    openblas_path = next((p for p in libs if "openblas" in os.path.basename(real[p]).lower()), None)
    report = {
        "torch_build_blas": _build_setting(show, "BLAS_INFO"),
        "torch_build_lapack": _build_setting(show, "LAPACK_INFO"),
        "torch_cpu_capability": _cpu_capability(show),
        "libraries": [{"path": p, "realpath": real[p]} for p in libs],
        "openblas": _openblas_info(openblas_path) if openblas_path else None,
        "threadpoolctl": _threadpoolctl_info(),
        "env": {k: os.environ.get(k) for k in BLAS_ENV_VARS},
    }
    # torch links libblas.so.3: the file that name resolves to decides what its sgemm calls run.
    libblas = [real[p] for p in libs if os.path.basename(p).startswith("libblas.so")]
    reference_libblas = [r for r in libblas if os.path.basename(os.path.dirname(r)) == "blas"]
    if reference_libblas:
        kind = "reference"
    elif openblas_path:
        kind = "openblas"
    elif "mkl" in names:
        kind = "mkl"
    elif "blis" in names:
        kind = "blis"
    elif "atlas" in names:
        kind = "atlas"
    elif "libblas" in names:
        # Debian's reference BLAS lives in .../blas/libblas.so.3; any libblas with no optimised library beside it is reference.
        kind = "reference"
    else:
        kind = "unknown"
    report["kind"] = kind
    report["gemm_gflops"] = round(_gemm_gflops(), 1)
    ob = report["openblas"] or {}
    summary = {
        "openblas": f"OpenBLAS ({ob.get('config', '?')}; core {ob.get('corename', '?')}, {ob.get('threads', '?')} threads)",
        "mkl": "Intel MKL",
        "blis": "BLIS",
        "atlas": "ATLAS",
        "reference": "REFERENCE BLAS (Netlib libblas)",
        "unknown": "unknown BLAS (no BLAS library found in /proc/self/maps)",
    }[kind]
    report["summary"] = f"{summary}; sgemm 1024^3 at {report['gemm_gflops']} GFLOP/s"
    report["reference"] = kind == "reference"
    report["slow"] = report["gemm_gflops"] < SLOW_GFLOPS
    if report["slow"] and kind != "reference":
        log(f"WARNING: sgemm runs at only {report['gemm_gflops']} GFLOP/s ({summary}); a ratio against this peer understates torch.")
    if kind == "reference":
        bar = "!" * 78
        log(bar)
        log("WARNING: torch is running on the REFERENCE BLAS (" + ", ".join(real.values()) + ").")
        log(f"It reaches {report['gemm_gflops']} GFLOP/s; OpenBLAS does ~30x more. Any ratio against this peer is meaningless.")
        log("Fix: apt-get install -y libopenblas0-openmp   (libblas.so.3 then resolves to OpenBLAS)")
        log(bar)
    return report


def runtime_info():
    return {
        "python": platform.python_version(),
        "executable": sys.executable,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
    }


def emit(result):
    """The peer's one JSON object on stdout."""
    json.dump(result, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
    sys.stdout.flush()
