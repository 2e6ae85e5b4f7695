"""Chapter summaries: made from the *expanded* text, so it is the second link of a chain."""
