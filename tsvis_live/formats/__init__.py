"""Readers for every log format: bytes in, `tsvis_live.records.Batch` out."""
