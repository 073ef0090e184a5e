"""GPU specifications as data: what the cost model divides work by.

Every figure is a `Figure(value, source, measured)`: `value` from a datasheet or whitepaper
(`source` says which), `measured` what this project measured on such a device (None until then;
bench/costmodel.py fills the H100 row's measurements, copied here by hand with the date).
`Spec.rate(name)` prefers the measured figure: datasheet peaks are leads, not promises
(METHOD.md: "measure the two ceilings once").

Rates are per second for the whole chip; `per_sm` divides by the SM count.

>>> h = DEVICES["h100"]
>>> h.sms.value, h.smem_per_sm.value
(132, 233472)
>>> round(h.sfu.value / 1e12, 2)      # 16 exp/clk/SM x 132 SMs x 1.83 GHz (datasheet figure)
3.86
>>> round(h.rate("sfu") / 1e12, 2)    # measured: the clock ran at 1.98 GHz
4.15
>>> h.tensor_rate("bf16") > h.tensor_rate("fp32")
True
>>> get_device("tpu")
Traceback (most recent call last):
...
wirefuse.rewrite.errors.UserError: unknown device 'tpu'; known: a100, h100, h200
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from wirefuse.rewrite.errors import UserError

WHITEPAPER_H100 = "NVIDIA H100 Tensor Core GPU Architecture whitepaper (2022), Table 2/3"
DATASHEET_H100 = "NVIDIA H100 datasheet (SXM5 column; dense, i.e. without sparsity)"
DATASHEET_H200 = "NVIDIA H200 datasheet (SXM column; dense)"
WHITEPAPER_A100 = "NVIDIA A100 Tensor Core GPU Architecture whitepaper (2020), Table 1/3"
CUDA_GUIDE = "CUDA C++ Programming Guide, Compute Capabilities table (arithmetic throughput)"
L2_EST = ("estimate: L2->SM read bandwidth (no datasheet figure; the A100 whitepaper gives "
          "5120 B/clk, and the first H100 run of bench/costmodel.py implies >= 8 TB/s)")
FIT_RUN1 = ("fitted to the unsplit decoding points of the first H100 run of bench/costmodel.py "
            "(per loop step t = (L + tile/B) / max(1, stages-1)); held-out check in "
            "docs/costmodel.md")
RUN1 = "bench/costmodel.py on the H100 of this workplace, 2026-11-23 08:27 and 08:52 UTC"
RUN_H200 = ("python3 bench/costmodel.py facts on the H200 of this workplace, 2026-11-23 13:16 UTC "
            "(torch 2.11.0+cu130, triton 3.6.0, CUDA 13.0; bench/costmodel_facts_h200.json)")
ESTIMATE = "estimate: typical warm launch of one kernel from PyTorch (not a datasheet figure)"
# fp32 dots are not tensor-core work here: the generated kernels run fp32 inputs with
# input_precision "ieee" (FMA on the FP32 units), and torch's matmul keeps allow_tf32 off by
# default, so the "fp32" tensor rate is the FP32 units' (tf32 has its own row)
FP32_DOTS = " (the FP32 units' rate: fp32 dots run in IEEE fp32, not as tf32)"
FIT_RUN34 = ("fitted after run 4 (grid search, top-1 and Spearman) to the prefill points of the "
             "third and fourth H100 runs of bench/costmodel.py that took >= 0.2 ms (generated "
             "kernels, triton 3.6; 27 shapes x configs, in-sample: every shape's top-1 within 10 %% "
             "of its best); the whole band %s fits as well; run 5 (docs/costmodel_run5.md) is the "
             "held-out check")
FIT_RUN38 = ("fitted after run 8 (a one-constant scan, top-1) to every H100 point of runs 3-8 "
             "(runs 3 and 4: prefill points that took >= 0.2 ms): 120 shapes in-sample, every "
             "shape's top-1 within 10 %% of its best for the whole band %s with the other "
             "constants unchanged; run 9 (docs/costmodel_run9.md) is the held-out check")
FIT_RUN310 = ("fitted after run 10 (a one-constant scan, top-1, with the compute counted per SM "
              "rather than per whole wave) to every H100 point of runs 3-10 (runs 3 and 4: "
              "prefill points that took >= 0.2 ms): 182 shapes in-sample, 181 with the top-1 "
              "within 10 %% of the best (177 before) for the whole band %s with the other "
              "constants unchanged; run 11 (docs/costmodel_run11.md) is the held-out check")
FIT_IN_FLIGHT = ("measured: num_stages 4 against 3, same tile, warps, split and shape: 242 "
                 "pairs of H100 runs 3 and 5-12 and 180 of H200 runs 9-12, median time ratio 1.00 "
                 "on both (quartiles 0.99-1.03), where 3 against 2 measured 0.65 (22 pairs, H100 "
                 "run 2): a loop keeps at most two key tiles in flight whatever its stages.  As a "
                 "model term (in-sample, runs 3-12): H100 top-1 within 10 % 243 -> 244 of 252 "
                 "shapes, H200 113 -> 119 of 124; held out (run 13, docs/costmodel_run13.md "
                 "and _h200.md): top-1 within 10 % on 31 of 31 shapes on each GPU")
FIT_RUN345 = ("fitted after run 5 (grid search with the four constants above, top-1 and "
              "Spearman) to the H100 runs 3 and 4 prefill points that took >= 0.2 ms and every "
              "point of run 5 (CUDA-graph timed): 46 shapes in-sample, every shape's top-1 within "
              "10 %% of its best for the whole band %s with the constants above unchanged; run 6 "
              "(docs/costmodel_run6.md) is the held-out check")


@dataclass(frozen=True)
class Figure:
    value: float
    source: str
    measured: float | None = None
    measured_how: str = ""

    @property
    def best(self) -> float:
        return self.measured if self.measured is not None else self.value


DTYPE_BYTES = {"fp8": 1, "bf16": 2, "fp16": 2, "tf32": 4, "fp32": 4}


@dataclass(frozen=True)
class Spec:
    name: str
    sms: Figure
    clock_hz: Figure             # the boost clock the datasheet's rates are computed at
    hbm_bytes_per_s: Figure
    loop_latency_s: Figure       # one streamed-loop step's fixed latency (load issue to use)
    program_stream_bytes_per_s: Figure  # what one program's loop can pull per second, at most
    l2_bytes: Figure
    l2_bytes_per_s: Figure       # L2 -> SM bandwidth: where re-reads of a shared tile land
    smem_per_sm: Figure          # shared memory (+L1) one SM can give to resident blocks
    smem_per_block: Figure       # the most one block may ask for
    regs_per_sm: Figure          # 32-bit registers
    max_threads_per_sm: Figure
    tensor: dict[str, Figure]    # dense tensor-core FLOP/s by input dtype
    fp32: Figure                 # non-tensor FP32 FLOP/s (an FMA counts 2)
    sfu: Figure                  # special-function ops/s (ex2, lg2, rsqrt, sin ...: MUFU)
    launch_s: Figure
    l2_latency_s: Figure         # a loop step's fixed latency when its tile is an L2 hit
    exposed_fp32: Figure         # part of the FP32 time the tensor core does not hide
    exposed_sfu: Figure          # part of the SFU (MUFU) time the tensor core does not hide
    co_resident: Figure          # what is left exposed when a second program shares the SM
    exposed_loads: Figure        # part of min(tensor, L2->SMEM load) time not hidden by the other
    synced_group: Figure         # what each further warpgroup of a program multiplies it by
    further_resident: Figure     # what each co-resident program past the second multiplies it by
    tiles_in_flight: Figure      # key tiles a loop keeps loading ahead of use, at most
    warpgroup_rows: Figure       # rows of the score tile per warpgroup (wgmma's M; 0: no wgmma)
    extra: dict = field(default_factory=dict)

    def rate(self, what: str) -> float:
        """Whole-chip rate of one resource: 'hbm', 'l2', 'fp32', 'sfu' (per second)."""
        return {"hbm": self.hbm_bytes_per_s, "l2": self.l2_bytes_per_s, "fp32": self.fp32,
                "sfu": self.sfu}[what].best

    def tensor_rate(self, dtype: str) -> float:
        if dtype not in self.tensor:
            raise UserError(f"{self.name} has no dense {dtype} tensor-core rate; use one of "
                            f"{', '.join(sorted(self.tensor))}")
        return self.tensor[dtype].best

    def figures(self) -> dict:
        """The figures lowering/cost/core.py divides by, as plain numbers (measured where
        measured, else the datasheet's; the SMEM, register and thread limits as specified).

        >>> f = DEVICES["h100"].figures()
        >>> f["sms"], f["hbm"] == DEVICES["h100"].rate("hbm"), sorted(f["tensor"])[:2]
        (132, True, ['bf16', 'fp16'])
        """
        return {"name": self.name, "sms": self.sms.value,
                "smem_per_sm": self.smem_per_sm.value,
                "smem_per_block": self.smem_per_block.value,
                "regs_per_sm": self.regs_per_sm.value,
                "max_threads_per_sm": self.max_threads_per_sm.value,
                "tensor": {k: f.best for k, f in self.tensor.items()},
                "fp32": self.rate("fp32"), "sfu": self.rate("sfu"), "hbm": self.rate("hbm"),
                "l2": self.rate("l2"), "loop_latency_s": self.loop_latency_s.best,
                "program_stream_bytes_per_s": self.program_stream_bytes_per_s.best,
                "launch_s": self.launch_s.best, "l2_latency_s": self.l2_latency_s.best,
                "l2_bytes": self.l2_bytes.best,
                "exposed_fp32": self.exposed_fp32.best, "exposed_sfu": self.exposed_sfu.best,
                "co_resident": self.co_resident.best, "exposed_loads": self.exposed_loads.best,
                "synced_group": self.synced_group.best,
                "further_resident": self.further_resident.best,
                "tiles_in_flight": self.tiles_in_flight.best,
                "warpgroup_rows": self.warpgroup_rows.value}

    def datasheet_only(self) -> "Spec":
        """The same device with every measured figure dropped (the napkin's own numbers)."""
        def strip(v):
            if isinstance(v, Figure):
                return replace(v, measured=None)
            if isinstance(v, dict):
                return {k: strip(f) for k, f in v.items()}
            return v
        return replace(self, **{k: strip(v) for k, v in self.__dict__.items()})

    def table(self) -> list[tuple[str, float, float | None, str]]:
        """(name, datasheet value, measured or None, source) rows, for docs and `explain`."""
        rows = []
        for k, v in self.__dict__.items():
            if isinstance(v, Figure):
                rows.append((k, v.value, v.measured, v.source))
            elif isinstance(v, dict):
                rows += [(f"{k}[{kk}]", f.value, f.measured, f.source) for kk, f in v.items()
                         if isinstance(f, Figure)]
        return rows


def _sfu(sms: int, clock: float, src: str) -> Figure:
    # 16 MUFU results per clock per SM on sm_80/sm_90 (4 per SM sub-partition).
    return Figure(16 * sms * clock, f"{CUDA_GUIDE}: 16/clk/SM x {sms} SMs x {clock / 1e9} GHz; {src}")


H100 = Spec(
    name="h100",
    sms=Figure(132, WHITEPAPER_H100, 132, "torch.cuda.get_device_properties"),
    clock_hz=Figure(1.83e9, WHITEPAPER_H100 + " (boost clock of the SXM5 rates; max 1.98 GHz)"),
    hbm_bytes_per_s=Figure(3.35e12, DATASHEET_H100, 3.0e12,
                           "device-to-device copy of 1 GiB, bytes read + written: 3.00 TB/s in "
                           "both runs of " + RUN1),
    loop_latency_s=Figure(0.95e-6, FIT_RUN1 + ": fixed part of one loop step (HBM load "
                          "latency ~0.6-0.9 us plus the step's dependent chain)"),
    program_stream_bytes_per_s=Figure(88e9, FIT_RUN1 + ": the part that grows with the tile"),
    l2_bytes=Figure(50 * 2**20, WHITEPAPER_H100, 50 * 2**20, "torch device properties"),
    l2_bytes_per_s=Figure(10e12, L2_EST + "; on the H100 an all-SM read of an 8 MiB buffer gave "
                          "7.7 TB/s, while the BLOCK_M=16 prefill kernels sustained >= 9.1 TB/s of "
                          "tile loads, so the microbenchmark is a lower bound and 10 TB/s stays"),
    smem_per_sm=Figure(228 * 1024, WHITEPAPER_H100 + " (228 KB shared memory per SM)"),
    smem_per_block=Figure(227 * 1024, CUDA_GUIDE + " (227 KB per block, opt-in)"),
    regs_per_sm=Figure(65536, WHITEPAPER_H100),
    max_threads_per_sm=Figure(2048, CUDA_GUIDE),
    tensor={
        "fp8": Figure(1979e12, DATASHEET_H100),
        "bf16": Figure(989.4e12, DATASHEET_H100, 690e12,
                       "8192^3 bf16 torch.matmul on random data, 686 and 691 TFLOP/s in the two "
                       "runs of " + RUN1 + " (an earlier run on this workplace's H100 saw 798)"),
        "fp16": Figure(989.4e12, DATASHEET_H100),
        "tf32": Figure(494.7e12, DATASHEET_H100),
        "fp32": Figure(66.9e12, DATASHEET_H100 + FP32_DOTS),
    },
    fp32=Figure(66.9e12, DATASHEET_H100),
    sfu=replace(_sfu(132, 1.83e9, "about 3.9 TFLOP/s of exponentials, docs/theory.md §10"),
                measured=4.15e12, measured_how="tl.exp2 chains over 8.6M elements, " + RUN1),
    launch_s=Figure(4e-6, ESTIMATE, 4.3e-6, "median time of one tiny torch op, " + RUN1),
    l2_latency_s=Figure(0.4e-6, FIT_RUN34 % "0.2-0.4 us" + ": an L2 hit's latency plus the "
                        "step's dependent chain (the HBM figure above is 0.95 us)"),
    exposed_fp32=Figure(0.25, FIT_RUN34 % "0.1-0.25" + ": a step's softmax phase depends on its "
                        "contraction and Triton does not ping-pong warpgroups; adds, compares "
                        "and multiplies interleave with the wgmma issue and are mostly hidden"),
    exposed_sfu=Figure(0.65, FIT_RUN34 % "0.5-0.8" + ": MUFU ops (exp2, rcp) run on 16 lanes "
                       "per SM and are hidden least"),
    co_resident=Figure(0.7, FIT_RUN34 % "0.5-0.7" + ": a second program on the SM does not wait "
                       "at the first one's barriers, so its contractions fill part of the gap"),
    exposed_loads=Figure(0.15, FIT_RUN345 % "0.1-0.2" + ": async tile copies into SMEM and "
                         "wgmma's operand reads share the SM's shared-memory bandwidth"),
    synced_group=Figure(1.1, FIT_RUN38 % "1.05-1.15" + ": the warpgroups of one program wait "
                        "for each other at every step's barrier, so their FP32/MUFU phases "
                        "coincide and hide less behind the tensor core"),
    further_resident=Figure(0.9, FIT_RUN310 % "0.88-0.92" + ": a third program (and each one "
                            "after it) brings warps whose contractions fill more of the gaps "
                            "that the FP32/MUFU phases leave; BLOCK_M 64 / BLOCK_N 32 with 4 "
                            "stages (2 programs per SM, by SMEM) measured 10-26 % slower than "
                            "with 3 (3 programs) on every MUFU-heavy shape of runs 5-10"),
    tiles_in_flight=Figure(2, FIT_IN_FLIGHT + " (the first run-1 fit's "
                           "stages-1 held for the 2 and 3 stages it had)"),
    warpgroup_rows=Figure(64, "PTX ISA, wgmma.mma_async: M = 64 per warpgroup (sm_90a)"),
)

H200 = Spec(
    name="h200",
    sms=Figure(132, DATASHEET_H200 + " (same GH100 die as H100 SXM)", 132,
               "torch device properties (2026-10-28)"),
    clock_hz=Figure(1.83e9, DATASHEET_H200),
    hbm_bytes_per_s=Figure(4.8e12, DATASHEET_H200, 4.22e12,
                           "device-to-device copy of 1 GiB, bytes read + written, " + RUN_H200),
    loop_latency_s=H100.loop_latency_s,
    program_stream_bytes_per_s=H100.program_stream_bytes_per_s,
    l2_bytes=Figure(50 * 2**20, DATASHEET_H200, 60 * 2**20, "torch device properties, " + RUN_H200),
    l2_bytes_per_s=replace(H100.l2_bytes_per_s, source=H100.l2_bytes_per_s.source + "; the "
                           "same all-SM read gave 8.42 TB/s on the H200, " + RUN_H200),
    smem_per_sm=H100.smem_per_sm,
    smem_per_block=H100.smem_per_block,
    regs_per_sm=H100.regs_per_sm,
    max_threads_per_sm=H100.max_threads_per_sm,
    tensor={
        "fp8": Figure(1979e12, DATASHEET_H200),
        "bf16": Figure(989.4e12, DATASHEET_H200, 707e12,
                       "8192^3 bf16 torch.matmul on random data, " + RUN_H200 +
                       " (788 on 2026-10-28)"),
        "fp16": Figure(989.4e12, DATASHEET_H200),
        "tf32": Figure(494.7e12, DATASHEET_H200),
        "fp32": Figure(66.9e12, DATASHEET_H200 + FP32_DOTS),
    },
    fp32=Figure(66.9e12, DATASHEET_H200),
    sfu=replace(_sfu(132, 1.83e9, "same SM as H100"), measured=4.15e12,
                measured_how="tl.exp2 chains over 8.6M elements, " + RUN_H200),
    launch_s=replace(H100.launch_s, measured=4.7e-6,
                     measured_how="median time of one tiny torch op, " + RUN_H200),
    l2_latency_s=H100.l2_latency_s,
    exposed_fp32=H100.exposed_fp32,
    exposed_sfu=H100.exposed_sfu,
    co_resident=H100.co_resident,
    exposed_loads=H100.exposed_loads,
    synced_group=H100.synced_group,
    further_resident=H100.further_resident,
    tiles_in_flight=H100.tiles_in_flight,
    warpgroup_rows=H100.warpgroup_rows,
)

A100 = Spec(
    name="a100",
    sms=Figure(108, WHITEPAPER_A100),
    clock_hz=Figure(1.41e9, WHITEPAPER_A100 + " (boost clock)"),
    hbm_bytes_per_s=Figure(2.039e12, "NVIDIA A100 80GB SXM datasheet"),
    loop_latency_s=Figure(1.0e-6, "estimate, by analogy with the H100 fit"),
    program_stream_bytes_per_s=Figure(70e9, "estimate, by analogy with the H100 fit"),
    l2_bytes=Figure(40 * 2**20, WHITEPAPER_A100),
    l2_bytes_per_s=Figure(7.2e12, L2_EST),
    smem_per_sm=Figure(164 * 1024, WHITEPAPER_A100 + " (164 KB shared memory per SM)"),
    smem_per_block=Figure(163 * 1024, CUDA_GUIDE),
    regs_per_sm=Figure(65536, WHITEPAPER_A100),
    max_threads_per_sm=Figure(2048, CUDA_GUIDE),
    tensor={
        "bf16": Figure(312e12, WHITEPAPER_A100),
        "fp16": Figure(312e12, WHITEPAPER_A100),
        "tf32": Figure(156e12, WHITEPAPER_A100),
        "fp32": Figure(19.5e12, WHITEPAPER_A100 + FP32_DOTS),
    },
    fp32=Figure(19.5e12, WHITEPAPER_A100),
    sfu=_sfu(108, 1.41e9, "A100 has no FP8 tensor cores"),
    launch_s=H100.launch_s,
    l2_latency_s=Figure(0.4e-6, "estimate, by analogy with the H100 fit"),
    exposed_fp32=Figure(0.25, "estimate, by analogy with the H100 fit (mma.sync, no wgmma)"),
    exposed_sfu=Figure(0.65, "estimate, by analogy with the H100 fit"),
    co_resident=Figure(0.7, "estimate, by analogy with the H100 fit"),
    exposed_loads=Figure(0.15, "estimate, by analogy with the H100 fit"),
    synced_group=Figure(1.1, "estimate, by analogy with the H100 fit"),
    further_resident=Figure(0.9, "estimate, by analogy with the H100 fit"),
    tiles_in_flight=Figure(2, "estimate, by analogy with the H100 measurement (cp.async)"),
    warpgroup_rows=Figure(0, "no wgmma on sm_80: mma.sync tiles of 16 rows per warp"),
)

DEVICES: dict[str, Spec] = {s.name: s for s in (A100, H100, H200)}
DTYPES = tuple(DTYPE_BYTES)


def get_device(name: str) -> Spec:
    spec = DEVICES.get(str(name).lower().replace("-sxm", "").replace("_", ""))
    if spec is None:
        raise UserError(f"unknown device {name!r}; known: {', '.join(sorted(DEVICES))}")
    return spec


def check_dtype(dtype: str, spec: Spec) -> str:
    if dtype not in DTYPE_BYTES:
        raise UserError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPES)}")
    spec.tensor_rate(dtype)  # raises if the device has no tensor cores for it (fp8 on A100)
    return dtype
