"""WhatsApp Cloud API onboarding playbook: the library the step notebooks call."""
from .about import PROJECT_NAME, __version__  # noqa: F401

from .errors import (  # noqa: E402
    ConfigError,
    GraphAPIError,
    MessageMayHaveBeenSentError,
    MissingSecretError,
    NetworkError,
    PlaybookError,
)
from .client import GraphClient  # noqa: E402  (design.md's contract: helpers.GraphClient)
