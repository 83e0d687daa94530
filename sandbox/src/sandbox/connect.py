"""How the product reaches a running sandbox: the same environment variables a user sets for the real vendors,
pointing at the local server and folders instead. Used by `csops ... --sandbox`, the demo and the tests."""

from __future__ import annotations

from pathlib import Path

from sandbox.manifest import Manifest


def environment(directory: Path, base_url: str) -> dict[str, str]:
    manifest = Manifest.read(directory)
    directory = directory.resolve()
    return {
        "SOURCES__HUBSPOT__BASE_URL": f"{base_url}/hubspot",
        "SOURCES__HUBSPOT__ACCESS_TOKEN": manifest.tokens["hubspot"],
        "SOURCES__STRIPE__BASE_URL": f"{base_url}/stripe",
        "SOURCES__STRIPE__API_KEY": manifest.tokens["stripe"],
        "SOURCES__SURVEYS__TYPEFORM_BASE_URL": f"{base_url}/typeform",
        "SOURCES__SURVEYS__TYPEFORM_TOKEN": manifest.tokens["typeform"],
        "SOURCES__SURVEYS__TYPEFORM_FORM_ID": manifest.typeform_form_id,
        "SOURCES__SURVEYS__CSV_URL": str(directory / "surveys_csv"),
        "SOURCES__USAGE__BUCKET_URL": str(directory / "events"),
        "ACTIVATION__HUBSPOT__BASE_URL": f"{base_url}/hubspot",
        "ACTIVATION__HUBSPOT__ACCESS_TOKEN": manifest.tokens["hubspot"],
        # The marts describe the simulation's today, not the wall clock's.
        "CSOPS_AS_OF_DATE": manifest.today.isoformat(),
    }
