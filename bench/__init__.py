"""Benchmarks of tsvis-live against TensorBoard's Python loader and its Rust data server.

Entry point: `python -m bench.run [--quick]`. Benchmarks are never unit tests.
"""
