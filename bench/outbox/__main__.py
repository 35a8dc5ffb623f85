"""python -m bench.outbox: the outbox drain benchmark (bench/outbox/run.py)."""

import sys

from bench.outbox.run import main

sys.exit(main())
