"""NPS surveys: the Typeform Responses API (table `typeform_responses`) and a CSV drop folder for any other tool
(table `csv_responses`), both normalised to the same columns (dbt unions them).

Typeform: the NPS answer and the comment are found by their field *ref* (stable when questions are reworded), the
account and respondent email by hidden fields. Typeform may not return the most recent responses yet (they become
visible after processing, some hours late), and its `after` tokens follow processing order, not submission order,
so neither "the last submission seen" nor "after the last token" is a safe cursor. Each run therefore asks for
everything submitted since the last submission seen minus a look-back window (`lookback_hours`, covering the lag;
dlt's incremental `lag`), pages by submission time (`since` = the last submission on the page, sorted ascending),
and merges on `response_id`: a response that appears late is still loaded, and none is loaded twice.
CSV: every file in the folder (local or fsspec URL) with columns response_id, submitted_at, account_id, email,
score, comment; files are re-read when modified, rows merge on response_id.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.sources.filesystem import FileItemDict, filesystem
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Request, Response

from ingestion.errors import SourceConfigError, SourceError
from ingestion.http import vendor_client
from ingestion.quarantine import quarantined
from ingestion.rate_limit import TYPEFORM_REQUESTS_PER_SECOND, Limit, RateLimiter

SOURCE = "surveys"
TOKEN_VARIABLE = "SOURCES__SURVEYS__TYPEFORM_TOKEN"
PAGE = 1000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_response(row: dict[str, Any]) -> str | None:
    """Reason a normalised response cannot be loaded, else None."""
    if not row.get("response_id"):
        return "missing response id"
    if not row.get("account_id"):
        return "missing account id (hidden field or column account_id)"
    score = row.get("score")
    if isinstance(score, bool) or not isinstance(score, int):
        return f"score {score!r} is not a whole number"
    if not 0 <= score <= 10:
        return f"score {score} is outside 0-10"
    if not isinstance(row.get("submitted_at"), datetime):
        return f"submitted_at {row.get('submitted_at')!r} is not a timestamp"
    return None


def typeform_row(
    item: dict[str, Any], form_id: str, score_ref: str, comment_ref: str, account_field: str, email_field: str
) -> dict[str, Any]:
    hidden = item.get("hidden") or {}
    score, comment = None, None
    for answer in item.get("answers") or []:
        ref = (answer.get("field") or {}).get("ref")
        if ref == score_ref:
            score = answer.get("number")
        elif ref == comment_ref:
            comment = answer.get("text")
    try:
        submitted = parse_time(item["submitted_at"]) if item.get("submitted_at") else None
    except ValueError:
        submitted = item.get("submitted_at")
    return {
        "response_id": item.get("response_id") or item.get("token"),
        "form_id": form_id,
        "channel": "typeform",
        "submitted_at": submitted,
        "account_id": hidden.get(account_field),
        "email": hidden.get(email_field),
        "score": score,
        "comment": comment,
    }


class SubmittedSincePaginator(BasePaginator):
    """Next page = the same request with `since` = the latest submission on this page (pages sorted by
    submission time, ascending), until a page comes back shorter than the page size.

    `since` is inclusive, so the responses of the boundary second come again (the reader skips ids it has seen);
    a page whose every response shares one second would never advance, and stops the load with an error rather
    than loop.
    """

    def __init__(self, page_size: int):
        super().__init__()
        self.page_size = page_size
        self._since: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        items = response.json().get("items") or []
        stamps = sorted(s for s in (i.get("submitted_at") for i in items) if isinstance(s, str) and _is_time(s))
        self._has_next_page = len(items) >= self.page_size and bool(stamps)
        if not self._has_next_page:
            return
        if stamps[-1] == self._since or stamps[0] == stamps[-1]:
            raise SourceError(
                f"surveys (typeform): {len(items)} responses submitted in the second {stamps[-1]}; paging by "
                "submission time cannot advance. Raise the page size."
            )
        self._since = stamps[-1]

    def update_request(self, request: Request) -> None:
        request.params = {**(request.params or {}), "since": self._since}


def _is_time(value: str) -> bool:
    try:
        parse_time(value)
    except ValueError:
        return False
    return True


def typeform_resource(
    client: RESTClient,
    form_id: str,
    score_ref: str,
    comment_ref: str,
    account_field: str,
    email_field: str,
    lookback_hours: float,
):
    @dlt.resource(name="typeform_responses", primary_key="response_id", write_disposition="merge")
    def typeform_responses(
        submitted=dlt.sources.incremental(
            "submitted_at", initial_value=EPOCH, on_cursor_value_missing="include", lag=lookback_hours * 3600
        ),
    ) -> Iterator[Any]:
        # dlt's `lag` steps the start back by the look-back window (the stored cursor only moves forward).
        params = {"page_size": PAGE, "completed": "true", "sort": "submitted_at,asc"}
        if submitted.last_value and submitted.last_value > EPOCH:
            params["since"] = submitted.last_value.strftime("%Y-%m-%dT%H:%M:%SZ")
        seen: set[str] = set()
        for page in client.paginate(
            f"/forms/{form_id}/responses",
            params=params,
            paginator=SubmittedSincePaginator(PAGE),
            data_selector="items",
        ):
            for item in page:
                row = typeform_row(item, form_id, score_ref, comment_ref, account_field, email_field)
                if row["response_id"] in seen:  # the boundary second of the previous page
                    continue
                if row["response_id"]:
                    seen.add(row["response_id"])
                reason = check_response(row)
                yield row if reason is None else quarantined(item, SOURCE, "typeform_responses", reason)

    return typeform_responses


def csv_row(record: dict[str, str], file_name: str) -> dict[str, Any]:
    score: Any = (record.get("score") or "").strip()
    if score.lstrip("-").isdigit():
        score = int(score)
    try:
        submitted: Any = parse_time(record["submitted_at"])
    except (KeyError, ValueError):
        submitted = record.get("submitted_at")
    return {
        "response_id": record.get("response_id") or None,
        "form_id": file_name,
        "channel": "csv",
        "submitted_at": submitted,
        "account_id": record.get("account_id") or None,
        "email": record.get("email") or None,
        "score": score,
        "comment": record.get("comment") or None,
    }


@dlt.transformer(name="csv_responses", primary_key="response_id", write_disposition="merge")
def read_csv_responses(items: Iterable[FileItemDict]) -> Iterator[Any]:
    for item in items:
        if not item["relative_path"].endswith(".csv"):
            continue
        with item.open() as handle:
            text = handle.read()
        reader = csv.DictReader(io.StringIO(text.decode("utf-8-sig") if isinstance(text, bytes) else text))
        missing = [
            c for c in ("response_id", "submitted_at", "account_id", "score") if c not in (reader.fieldnames or [])
        ]
        for number, record in enumerate(reader, start=2):
            if missing:
                reason = f"{item['relative_path']} lacks column(s) {', '.join(missing)}"
                yield quarantined(record, SOURCE, "csv_responses", reason)
                continue
            row = csv_row(record, item["relative_path"])
            reason = check_response(row)
            yield (
                row
                if reason is None
                else quarantined(
                    {"file": item["relative_path"], "line": number, **record}, SOURCE, "csv_responses", reason
                )
            )


@dlt.source(name="surveys", section="surveys")
def surveys_source(
    typeform_form_id: str | None = None,
    typeform_token: str | None = dlt.secrets.value,
    typeform_base_url: str = "https://api.typeform.com",
    csv_url: str | None = None,
    score_ref: str = "nps_score",
    comment_ref: str = "nps_reason",
    account_field: str = "account_id",
    email_field: str = "email",
    typeform_requests_per_second: float = TYPEFORM_REQUESTS_PER_SECOND,
    lookback_hours: float = 72,
) -> Any:
    """Typeform responses (when a form id is configured) and CSV exports (when a folder is configured). Typeform
    allows 2 requests per second. `lookback_hours` (SOURCES__SURVEYS__LOOKBACK_HOURS) is how far before the last
    submission seen each run reads again, to catch responses Typeform made visible late."""
    resources = []
    if typeform_form_id:
        client = vendor_client(
            SOURCE + " (typeform)",
            typeform_base_url,
            typeform_token or "",
            TOKEN_VARIABLE,
            limiter=RateLimiter("typeform", {"default": Limit.per_second(typeform_requests_per_second)}),
        )
        resources.append(
            typeform_resource(
                client, typeform_form_id, score_ref, comment_ref, account_field, email_field, lookback_hours
            )
        )
    if csv_url:
        files = filesystem(
            bucket_url=csv_url, file_glob="*.csv", incremental=dlt.sources.incremental("modification_date")
        )
        resources.append(files.with_name("survey_files") | read_csv_responses)
    if not resources:
        raise SourceConfigError(
            "surveys: nothing to load. Set SOURCES__SURVEYS__TYPEFORM_FORM_ID (and SOURCES__SURVEYS__TYPEFORM_TOKEN) "
            "and/or SOURCES__SURVEYS__CSV_URL."
        )
    return resources
