"""Text expansion: drafts into fuller prose, stored in its own MongoDB."""
