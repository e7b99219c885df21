"""Sample exports for `mlds demo` and the benchmarks: generated, never downloaded."""
