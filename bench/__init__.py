"""Workflow benchmark harness for hms (issue 5): see bench/README.md."""
