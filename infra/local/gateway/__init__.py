"""API Gateway on this machine: HTTPS, its limits and result mapping, routing by alias in front
of the execution environments."""
