"""The client-facing HTTP routes and the studio's pages; calls relayed to the services behind."""
