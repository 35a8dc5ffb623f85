"""python -m bench.consent: the consent and data-sharing benchmark (bench/consent/run.py)."""

import sys

from bench.consent.run import main

sys.exit(main())
