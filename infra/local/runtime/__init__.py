"""Lambda's execution environments on this machine: the Runtime API, the runtime client in a
process (or a container of the version's image), their pool, and what they log."""
