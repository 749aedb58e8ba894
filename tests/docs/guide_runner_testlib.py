"""Runs a guide's Python code blocks in one namespace, as a reader would paste them."""

import linecache
import os


def run_blocks(blocks, label, module_name):
    """Executes `blocks` (strings) in order in one namespace and returns it.

    Each block is registered in `linecache` under `"{label}:block{i}"`, so tracebacks (and
    TensorFlow's autograph) can read its source. `KERAS_BACKEND`, which a guide sets for its
    reader, is restored afterwards.
    """
    namespace = {"__name__": module_name}
    saved_backend = os.environ.get("KERAS_BACKEND")
    try:
        for index, block in enumerate(blocks):
            filename = f"{label}:block{index + 1}"
            linecache.cache[filename] = (len(block), None, block.splitlines(True), filename)
            exec(compile(block, filename, "exec"), namespace)
    finally:
        if saved_backend is None:
            os.environ.pop("KERAS_BACKEND", None)
        else:
            os.environ["KERAS_BACKEND"] = saved_backend
    return namespace
