"""python -m bench.ladders: the escalation-deadline benchmark (bench/ladders/run.py)."""

import sys

from bench.ladders.run import main

sys.exit(main())
