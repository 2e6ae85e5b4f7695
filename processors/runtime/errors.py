"""The processor runtime's error vocabulary: retryable or not, and the query API's errors."""

from __future__ import annotations

from servicekit.errors import NotFound, ServiceError


class ProcessingError(ServiceError):
    """A message could not be handled; `retryable` says whether another delivery may succeed."""

    code, title = "processing-failed", "Processing failed"


class RetryableError(ProcessingError):
    """Worth another delivery: a provider or a service was down or slow."""

    retryable = True
    code, title = "retryable", "A dependency failed; the message will be delivered again"


class PermanentError(ProcessingError):
    """Can never succeed (e.g. the source fails its input schema): the message is terminated."""

    retryable = False
    code, title = "permanent", "The message can never be processed"


class ProviderError(RetryableError):
    code, title = "provider-error", "The model provider failed"


class ProviderGaveUp(PermanentError):
    """The model failed a part of the work as many times as its retry policy allows: the owner is
    told, the message goes to the dead letters (replayable), and JetStream does not call the
    model again for it."""

    code, title = "provider-gave-up", "The model provider failed every try"


class IndexUnavailable(RetryableError):
    code, title = "index-unavailable", "The index service did not answer"


class SourceInvalid(PermanentError):
    code, title = "source-invalid", "The source blob does not match the processor's input schema"


class DerivedNotFound(NotFound):
    code, title = "derived-not-found", "No such derived blob"


class RegistrationRefused(PermanentError):
    """The registry refused the processor (say, it would close a cycle): it cannot start so."""

    code, title = "registration-refused", "The registry refused the processor"


class SchemaRefused(RegistrationRefused):
    """The registry refused a schema this processor owns: it cannot start until that is settled."""

    code, title = "schema-refused", "The schema registry refused the processor's schema"


class Superseded(ProcessingError):
    """The source changed while its derivation ran: the work was dropped; a newer event derives."""

    retryable = False
    code, title = "superseded", "A newer version of the source is being derived"
