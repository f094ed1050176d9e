"""Rules Applied: ordered steps that clean, filter and protect a feed's batches between mapping and resolving.

One module per job (docs/rules.md):

- `steps`: what a step is, checked field by field (the editor, the API and activation share it);
- `fields`: reading and writing a named field of a batch; `conditions`: form conditions as predicates;
- `cel`: Common Expression Language conditions and values (cel-python), with errors at their position;
- `execute`: steps compiled once into set-wise operations over a page's batches, CEL row by row only
  where a step uses it, a time limit per page, failing rows rejected with the reason;
- `models`: rule sets (of a feed or of a feed→output connection), versions, the version each run used;
- `runs`: the engine's and the outbox's one call each (which version a run applies, applying it);
- `service`: editing the draft, activation with audit, the preview on the data model's sample rows,
  lineage; `forms`, `views`, `urls`: the editor.

This module declares, once, the vocabulary they share. It imports nothing.
"""

from __future__ import annotations

# Conditions built in the form: operator → its label. The value each needs is told by VALUE_KINDS.
OPERATORS: dict[str, str] = {
    "equals": "equals",
    "not_equals": "does not equal",
    "in_list": "is one of",
    "contains": "contains",
    "starts_with": "starts with",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
    "greater_than": "is greater than",
    "less_than": "is less than",
    "before": "is before the date",
    "after": "is after the date",
}
# What an operator's value is: "text" (one value), "list" (comma-separated or a JSON list), "number",
# "date" (ISO 8601 date or date-time), or "" (no value).
VALUE_KINDS: dict[str, str] = {
    "equals": "text",
    "not_equals": "text",
    "in_list": "list",
    "contains": "text",
    "starts_with": "text",
    "is_empty": "",
    "is_not_empty": "",
    "greater_than": "number",
    "less_than": "number",
    "before": "date",
    "after": "date",
}

# Actions: type → label.
ACTIONS: dict[str, str] = {
    "drop_user": "Drop the user's data",
    "drop_event": "Drop the event",
    "remove_attribute": "Remove an attribute",
    "rename_attribute": "Rename an attribute",
    "set_attribute": "Set an attribute",
    "normalise_identity": "Normalise an identity (trim, lowercase)",
    "hash": "Hash with SHA-256",
    "mask": "Mask a value",
}
# The actions that work on one field (named in the action's "field").
FIELD_ACTIONS = (
    "remove_attribute",
    "rename_attribute",
    "set_attribute",
    "normalise_identity",
    "hash",
    "mask",
)

# Field names, the same in form conditions, actions and CEL expressions:
#   identities.<type>          a user identity or device id (feeds.mapping.IDENTITY_TYPES)
#   attributes.<name>          a user attribute
#   event.name, event.type     the row's event (a row makes at most one)
#   event.attributes.<name>    one of the event's custom attributes
#   environment                production or development
FIELD_PREFIXES = ("identities.", "attributes.", "event.attributes.")
FIELD_NAMES = ("event.name", "event.type", "environment")
# CEL sees each batch as these variables.
CEL_VARIABLES = ("identities", "attributes", "event", "environment")

MASK_CHARACTER = "•"
