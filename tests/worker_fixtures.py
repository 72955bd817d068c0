"""Real Celery worker processes for tests (owned by the job engine work; see jobs/)."""
