"""How the services are put together: a one-machine supervisor and deployments for clusters."""
