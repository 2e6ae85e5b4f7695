"""Live updates: the gateway's view of the stream, sockets and their queues, progress in flight."""
