"""The gateway: the client-facing API, authentication, and (later) aggregation and live updates."""
