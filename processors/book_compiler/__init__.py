"""Book compiler: a book's chapters compiled into one versioned book, in its own PostgreSQL."""
