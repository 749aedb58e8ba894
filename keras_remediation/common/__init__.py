"""Machinery shared by every remediation technique: the wrapper model and tensor helpers."""
