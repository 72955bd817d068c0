"""The JSON body parser: DRF's, plus a clean 400 for absurdly nested documents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class PcfJSONParser(JSONParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # json raises RecursionError (not ValueError) past ~1,000 levels; DRF only
            # turns ValueError into a ParseError, so this was a 500.
            raise ParseError("JSON parse error - nested too deeply") from None
