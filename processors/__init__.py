"""Processors and the runtime they share.

`processors.runtime` is the runtime: consuming events, idempotency, acks, dead letters,
registration and the query API. `processors.rendering` turns a writer's text into files safely
(prose, renderers in a sandboxed process); `processors.llm` and `processors.pg` are the model
provider and the PostgreSQL store the built-in processors share. Each processor is a package of
its own beside them (`text_expansion`, `book_compiler`, `pitch_builder`, `summary`): a transform
and a store.
"""
