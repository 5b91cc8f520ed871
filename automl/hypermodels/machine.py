"""What this machine's processor can do that training depends on: its bfloat16 instructions."""
from __future__ import annotations

import platform
from functools import cache
from pathlib import Path

BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")  # x86: AVX512-BF16 (AMD Zen 4, Intel Cooper Lake on), AMX's tiles


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, set[str]]:
    """The processor's model name and its instruction flags, from /proc/cpuinfo where there is one (Linux);
    elsewhere the platform's name and no flags."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or platform.machine(), set()
    lines = text.splitlines()
    name = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.machine())
    flags = set(next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), []))
    return name, flags


def bfloat16_instructions(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The bfloat16 instructions of this CPU. Without them TensorFlow emulates bfloat16 arithmetic: on 2 cores of an
    AMD EPYC with AVX2 only, airbench's network trained at 6 images/s under `mixed_bfloat16`, 57 in float32."""
    return [flag for flag in BFLOAT16_FLAGS if flag in cpu_flags(cpuinfo)[1]]


@cache
def bfloat16_pays() -> bool:
    """Whether bfloat16 arithmetic runs faster than float32 here: a GPU, or a CPU with bfloat16 instructions.
    Asked once a process: every trial's build and the report ask, and the hardware does not change."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU")) or bool(bfloat16_instructions())
