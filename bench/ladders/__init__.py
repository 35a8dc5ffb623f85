"""Escalation deadlines (`python -m bench.ladders`): finding the due steps as open
escalations accumulate, and how soon after its deadline a step-up reaches a push
receiver.

- steps.py: open escalation steps, realistic, written straight into escalation_steps;
- due.py: `StepStore.due` timed in process at each number of open steps, with its plan;
- escalations.py: the escalations sent, the short ladder they climb, the push endpoint;
- receiver.py: bench/outbox's loopback receiver, noting when each step arrived;
- stepups.py: a run against a real `gateway serve`: sent, climbed, delivered, timed;
- report.py: the Markdown and JSON results; run.py: the command line.

See bench/README.md, "Escalation deadlines".
"""
