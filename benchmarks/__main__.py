"""`python -m benchmarks` (what `make bench` runs); `--help` lists the parts."""

import sys

from benchmarks.fast_path import main

sys.exit(main())
