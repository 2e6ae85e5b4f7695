"""What every service of the federation shares: settings parsing, the error vocabulary's base,
problem+json, JSON bodies with limits, authentication, health and metrics, the event stream."""
