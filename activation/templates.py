"""Task text from the playbook templates, filled in one pass so that customer text is never interpreted.

The playbooks seed holds templates such as `Renewal rescue: {company} renews {renewal_date}`; the mart
`cs_playbook_tasks` carries each template and one `fill_<name>` column per placeholder. Chained string replaces
would substitute again inside what an earlier replace inserted (a company called `Acme {arr}` would show the ARR),
so the template is parsed once (`string.Formatter`) and every placeholder is looked up by name: only the template
can name a placeholder, and the values are inserted as they are. A template naming a placeholder the mart does not
fill, or with a stray brace, is a `TemplateError` naming the playbook (the seed needs fixing, not the data).

The rendered text is plain text; each CRM adapter escapes it for its own field type (HubSpot's task body is HTML).
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter

# Placeholders the mart fills (column `fill_<name>` of marts.cs_playbook_tasks).
PLACEHOLDERS: tuple[str, ...] = ("company", "reasons", "renewal_date", "arr", "status", "score", "drop")
FILL_COLUMNS: tuple[str, ...] = tuple(f"fill_{name}" for name in PLACEHOLDERS)


class TemplateError(ValueError):
    """A playbook template the sync cannot fill; the message names the playbook and the placeholder."""


def render(template: str, values: Mapping[str, str], *, playbook: str) -> str:
    """The template with each `{name}` replaced by `values[name]`, in one pass (`{{` / `}}` are literal braces)."""
    try:
        parts = list(Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(f"playbook {playbook!r}: template {template!r} is malformed ({exc})") from None
    out: list[str] = []
    for literal, name, spec, conversion in parts:
        out.append(literal)
        if name is None:
            continue
        if name not in values or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise TemplateError(
                f"playbook {playbook!r}: template {template!r} uses {shown}; templates may use only "
                + ", ".join("{" + p + "}" for p in sorted(values))
                + " (seed playbooks)"
            )
        out.append(values[name])
    return "".join(out)
