"""What the tests and benchmarks use to run the studio for real and watch it: the stack harness,
the simulated model provider, waiting for what is expected, a socket client, readers of exported
files and logs. Installed for development only: the production image does not contain it."""
