"""Use cases shared by the CLI and the portal. They take a Store and Settings, never Flask or click."""
