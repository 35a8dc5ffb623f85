"""Scale-out on one PostgreSQL (`python -m bench.scaling`): creates and handover pushes per
second from 1, 2 and 3 `gateway serve` processes, driven by a fixed wrk load. See
bench/README.md, "Scale-out"."""
