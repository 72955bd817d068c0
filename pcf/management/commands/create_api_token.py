from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pcf.models import ApiClient


class Command(BaseCommand):
    help = "Create an API client (a tenant) and print only its bearer token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        _, token = ApiClient.issue(options["name"])
        self.stdout.write(token)
