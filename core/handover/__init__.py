"""The handover minimum dataset and escalation summary: the spec's models, the referral
checklist, the mapping to FHIR and back, answers to referrals, the summary page."""
