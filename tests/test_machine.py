"""automl.hypermodels.machine: the processor's bfloat16 instructions, read from /proc/cpuinfo."""
from __future__ import annotations

from automl.hypermodels.machine import bfloat16_instructions, cpu_flags

CPUINFO = "processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse2 avx2 {extra}\n\nprocessor\t: 1\n"


def test_the_bfloat16_instructions_are_read_from_the_cpus_flags(tmp_path):
    with_them = tmp_path / "zen4"
    with_them.write_text(CPUINFO.format(extra="avx512f avx512_bf16"))
    without = tmp_path / "zen2"
    without.write_text(CPUINFO.format(extra="avx"))
    assert cpu_flags(with_them)[0] == "AMD EPYC 9R14"
    assert bfloat16_instructions(with_them) == ["avx512_bf16"]
    assert bfloat16_instructions(without) == []


def test_without_cpuinfo_there_are_no_flags_and_the_platform_names_the_cpu(tmp_path):
    name, flags = cpu_flags(tmp_path / "absent")
    assert name and flags == set()
    assert bfloat16_instructions(tmp_path / "absent") == []
