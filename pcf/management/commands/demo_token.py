from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from pcf import embedded
from pcf.models import ApiClient, hash_token


class Command(BaseCommand):
    help = "Print a demo bearer token (created once, kept in the data folder) and a curl line."

    def handle(self, *args: Any, **options: Any) -> None:
        saved = embedded.data_dir() / "demo-token"
        token = saved.read_text().strip() if saved.exists() else ""
        if not token or not ApiClient.objects.filter(token_hash=hash_token(token)).exists():
            _, token = ApiClient.issue("demo")
            saved.write_text(token)
            saved.chmod(0o600)
        self.stdout.write(f"Demo token: {token}\nTry:\n")
        self.stdout.write(
            "  curl -s -X POST http://127.0.0.1:8000/v1/resources "
            f'-H "Authorization: Bearer {token}" -H "Content-Type: application/json" '
            """-d '{"name": "Resource 1", "type": "document"}'\n"""
        )
