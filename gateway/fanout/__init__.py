"""Views gathered from several stores at once: the fan-out, its cache, read-your-writes."""
