"""The Celery app and its tasks. Task bodies call the core; the plumbing (retries, acks) lives here."""
