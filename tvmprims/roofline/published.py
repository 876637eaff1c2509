"""Published peaks of other chips, for comparison with the measured ones (never used in a
computation): vendor figures, or figures derived from vendor specifications as stated."""

from collections import namedtuple

__all__ = ["PublishedPeak", "PUBLISHED_PEAKS"]

PublishedPeak = namedtuple("PublishedPeak", "chip kind dtype gflops bandwidth_gbps source")

PUBLISHED_PEAKS = (
    PublishedPeak("NVIDIA H100 SXM5", "GPU", "float32 (CUDA cores)", 67_000, 3_350,
                  "NVIDIA H100 Tensor Core GPU datasheet"),
    PublishedPeak("NVIDIA H200 SXM", "GPU", "float32 (CUDA cores)", 67_000, 4_800,
                  "NVIDIA H200 Tensor Core GPU datasheet"),
    PublishedPeak("NVIDIA A100 SXM4 80GB", "GPU", "float32 (CUDA cores)", 19_500, 2_039,
                  "NVIDIA A100 Tensor Core GPU datasheet"),
    PublishedPeak("NVIDIA GeForce RTX 4090", "GPU", "float32", 82_600, 1_008,
                  "NVIDIA Ada Lovelace GPU architecture whitepaper"),
    PublishedPeak("AMD Instinct MI300X", "GPU", "float32 (vector)", 81_700, 5_300,
                  "AMD Instinct MI300X data sheet"),
    PublishedPeak("Google TPU v4", "accelerator", "bfloat16", 275_000, 1_200,
                  "Jouppi et al., TPU v4, ISCA 2023"),
    PublishedPeak("AMD EPYC 7763 (64 Zen 3 cores)", "CPU", "float32", 5_018, 204.8,
                  "derived: 64 cores x 2.45 GHz base x 32 FLOP/cycle (two 256-bit FMA); "
                  "8 channels DDR4-3200 (AMD product page)"),
)
