"""The index service: user blobs, the global BlobIndex, books, and the schema and processor registries."""
