"""Handovers and escalation summaries: the dataset API, answers to referrals, later versions."""
