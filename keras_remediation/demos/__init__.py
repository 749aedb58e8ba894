"""End-to-end demonstrations behind `keras-remediation demo ...`."""
