"""The project's name and version, in a module of their own so that the client's User-Agent
and the CLI's --version read them without importing the package's front door."""
__version__ = "0.1.0"
PROJECT_NAME = "wa-onboarding-playbook"
