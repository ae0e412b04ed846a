"""Protobuf messages TensorBoard's package lacks, built at import time without protoc.

They live in a private descriptor pool under `tsvis_live.*` package names, so they can never
collide with TensorBoard's (or the `tsvis` package's) messages in the default pool.
"""
