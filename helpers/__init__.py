"""WhatsApp Cloud API onboarding playbook: the library the step notebooks call."""
__version__ = "0.1.0"
PROJECT_NAME = "wa-onboarding-playbook"

from .errors import (  # noqa: E402
    ConfigError,
    GraphAPIError,
    MessageMayHaveBeenSentError,
    MissingSecretError,
    NetworkError,
    PlaybookError,
)
from .client import GraphClient  # noqa: E402  (design.md's contract: helpers.GraphClient)
