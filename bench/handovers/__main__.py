"""python -m bench.handovers: the handover pipeline's benchmark (bench/handovers/run.py)."""

import sys

from bench.handovers.run import main

sys.exit(main())
