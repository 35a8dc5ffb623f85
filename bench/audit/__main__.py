"""python -m bench.audit: the access-log benchmark (bench/audit/run.py)."""

import sys

from bench.audit.run import main

sys.exit(main())
