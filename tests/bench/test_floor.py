"""bench/floor.py: the encoder's FLOP count and onnxruntime's measured MatMul rate."""

from __future__ import annotations

from bench.floor import flops, gemm_rate


def test_flops_counts_projections_and_attention() -> None:
    # hidden 4, intermediate 8, 2 tokens: projections 2*2*(4*16 + 2*32) = 512, attention 2*2*4*4 = 64
    assert flops(1, 4, 8, 2) == 576.0
    assert flops(6, 4, 8, 2, batch=3) == 18 * 576.0


def test_all_minilm_sized_layers_at_128_tokens() -> None:
    # 6 layers, hidden 384, intermediate 1536: 2.87 GFLOP, the figure bench/text.py's floor uses
    assert round(flops(6, 384, 1536, 128) / 1e9, 2) == 2.87


def test_the_rate_is_measured() -> None:
    rate = gemm_rate(8, 16, 32, runs=2, calls=5)
    assert 1e6 < rate < 1e13  # FLOP/s: some work per second, below any CPU's peak
