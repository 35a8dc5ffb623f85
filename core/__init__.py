"""The functional core: pure functions and values, no I/O, no clock, no ids of their own.

The shell (gateway/) reads, stores and sends; this package decides what things mean. Its
own decision point for consent and agreements is the separate `consent` package."""
