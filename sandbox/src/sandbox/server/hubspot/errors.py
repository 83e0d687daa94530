"""HubSpot's error bodies: `{"status": "error", "message", "correlationId", "category", ...}`."""

from __future__ import annotations

import uuid
from typing import Any

from sandbox.server.common import ApiError, dumps


class HubSpotError(ApiError):
    """HubSpot's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        category: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(status, headers)
        self.message, self.category, self.extra = message, category, extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
        }
        if self.category:
            body["category"] = self.category
        body.update(self.extra)
        return body


def validation_error(message: str, **extra: Any) -> HubSpotError:
    return HubSpotError(400, message, "VALIDATION_ERROR", **extra)


def not_found(message: str = "resource not found") -> HubSpotError:
    return HubSpotError(404, message, "OBJECT_NOT_FOUND")


def property_errors(errors: list[dict[str, Any]]) -> HubSpotError:
    """HubSpot's answer to invalid property values: the ValidationResults JSON inside the message."""
    return validation_error(f"Property values were not valid: {dumps(errors).decode()}")
