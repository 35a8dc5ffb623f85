"""python -m bench.scaling: throughput from one to several `gateway serve` processes on one
PostgreSQL (bench/scaling/run.py)."""

import sys

from bench.scaling.run import main

sys.exit(main())
