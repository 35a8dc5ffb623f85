"""The outbox's drain rate and enqueue-to-delivered latency (`python -m bench.outbox`).

- receiver.py: the loopback receiver, a bare ASGI app under uvicorn in its own process,
  storing by X-Request-ID (200, or 409 duplicate on a repeat);
- deliveries.py: what is queued, the handover example's BaRS message as a push queues it;
- processes.py: the receiver and `gateway worker` processes, and their CPU;
- measure.py: the drain of a backlog and the steady-rate latency, each checked exactly
  once at the receiver;
- variant.py: `gateway worker` with its poll interval or pool size changed, for the
  diagnostic comparisons (nothing in gateway/ edited);
- profile.py: a DeliveryWorker in process under cProfile;
- report.py: the Markdown and JSON results; run.py: the command line.

See bench/README.md, "Outbox drain".
"""
