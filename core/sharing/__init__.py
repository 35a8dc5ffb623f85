"""What the decision point (`consent`) needs to know about resources and Consents."""
