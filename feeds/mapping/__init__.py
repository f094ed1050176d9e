"""A feed's mapping: model columns → mParticle JSON batches.

A mapping is a list of {"mapping_type", "source", "destination", "value"} dicts (the API's shape, stored in
FieldTransformation.mappings). One module per job:

- `rules`: propose a mapping from the model's columns (`auto_mappings`) and explain, in words, what is wrong
  with one (`validate_mappings`);
- `pages`: turn a page of rows into one batch per row (the engine's map stage and the review's preview);
- `tree`: the mapping as the wizard's tree of objects and nodes shows and edits it.

This module declares, once, the vocabulary they share: the kinds of mapping, identity types, reserved
column names, `$unmapped`, event types and the fields each needs. It imports nothing but Django's
TextChoices.
"""

from __future__ import annotations

from django.db import models


class MappingType(models.TextChoices):
    """A mapping's `mapping_type`: the wizard's choices, the rules' check and the API's enum."""

    COLUMN = "column", "Column"
    STATIC = "static", "Static"
    IGNORE = "ignore", "Ignore"


USER_IDENTITY_TYPES: tuple[str, ...] = (
    "customer_id",
    "email",
    "other",
    *(f"other_id_{n}" for n in range(2, 11)),
    "mobile_number",
    "phone_number_2",
    "phone_number_3",
    "facebook",
    "twitter",
    "google",
    "microsoft",
    "yahoo",
    "facebook_custom_audience_id",
)
DEVICE_IDS: tuple[str, ...] = (
    "android_uuid",
    "ios_advertising_id",
    "ios_idfv",
    "android_advertising_id",
    "push_token",
    "amp_id",
    "roku_advertising_id",
    "roku_publisher_id",
    "microsoft_advertising_id",
    "microsoft_publisher_id",
    "fire_advertising_id",
)
# Identity types in the order rows are matched to profiles (customer_id, the login id, first).
IDENTITY_TYPES: tuple[str, ...] = (*USER_IDENTITY_TYPES, *DEVICE_IDS, "mp_deviceid")

_LABELS = {
    "customer_id": "Customer ID",
    "email": "Email Address",
    "other": "Other",
    "mobile_number": "Mobile Number",
    "phone_number_2": "Phone Number 2",
    "phone_number_3": "Phone Number 3",
    "facebook": "Facebook ID",
    "twitter": "Twitter Handle",
    "google": "Google ID",
    "microsoft": "Microsoft ID",
    "yahoo": "Yahoo ID",
    "facebook_custom_audience_id": "Facebook Custom Audience ID",
    "mp_deviceid": "mParticle Device ID",
}
IDENTITY_CHOICES: list[tuple[str, str]] = [
    (t, _LABELS.get(t) or t.replace("_", " ").title().replace("Id", "ID")) for t in IDENTITY_TYPES
]

RESERVED_IDENTITIES: dict[str, str] = {
    "customerid": "user_identities.customer_id",
    **{t: f"user_identities.{t}" for t in USER_IDENTITY_TYPES},
    **{d: f"device_info.{d}" for d in DEVICE_IDS},
    "mp_deviceid": "mp_deviceid",
    "mpid": "mpid",
}
RESERVED_ATTRIBUTES: tuple[str, ...] = (
    "$firstname",
    "$lastname",
    "$age",
    "$gender",
    "$country",
    "$zip",
    "$city",
    "$state",
    "$address",
    "$mobile",
)

UNMAPPED = "$unmapped"
EVENT_TYPES = ("custom_event", "screen_view", "commerce_event")
CUSTOM_EVENT_TYPES = (
    "navigation",
    "location",
    "search",
    "transaction",
    "user_content",
    "user_preference",
    "social",
    "other",
    "media",
    "attribution",
)
PRODUCT_ACTIONS = (
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "checkout_option",
    "click",
    "view_detail",
    "purchase",
    "refund",
    "add_to_wishlist",
    "remove_from_wish_list",
)
# What each event type needs besides event_type (mParticle's JSON schema).
REQUIRED_EVENT_FIELDS = {
    "custom_event": ("events[].data.event_name", "events[].data.custom_event_type"),
    "screen_view": ("events[].data.screen_name",),
    "commerce_event": ("events[].data.product_action.action",),
}
# Every named field of an event's "data" in mParticle's JSON batch schema (docs/api.md lists them); the
# custom_attributes.<name> and custom_flags.<name> maps take any name (EVENT_DATA_MAPS).
EVENT_DATA_FIELDS = (
    "event_name",
    "custom_event_type",
    "screen_name",
    "product_action.action",
    "timestamp_unixtime_ms",
    "source_message_id",
    "session_uuid",
    "session_id",
    "event_id",
    "event_num",
    *(
        f"location.{f}"
        for f in (
            "latitude",
            "longitude",
            "accuracy",
            "country_code",
            "region_code",
            "city_name",
            "postal_code",
            "dma_code",
            "location_source",
        )
    ),
    "device_current_state",
    "currency_code",
    "is_non_interactive",
    "shopping_cart",
    *(
        f"product_action.{f}"
        for f in (
            "transaction_id",
            "total_amount",
            "tax_amount",
            "shipping_amount",
            "coupon_code",
            "affiliation",
            "checkout_step",
            "checkout_options",
            "product_action_list",
            "product_list_source",
            "products",
        )
    ),
    "promotion_action",
    "promotion_action.action",
    "promotion_action.promotions",
    "product_impressions",
    "session_duration_ms",
    "label",
    "session_number",
    "application_transition_type",
)
EVENT_DATA_MAPS = ("custom_attributes", "custom_flags")
# The batch sections that hold identities, and the identities that sit at the batch's top level.
IDENTITY_SECTIONS: tuple[str, ...] = ("user_identities", "device_info")
TOP_LEVEL_IDENTITIES: tuple[str, ...] = ("mpid", "mp_deviceid")
