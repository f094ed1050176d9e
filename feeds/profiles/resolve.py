"""Identity resolution of a page, in memory: rows → profiles (docs/identity.md, "Resolution rules").

The store bulk-loads everything the page's identities and MPIDs can reach into a `StoreState`, this module
resolves the rows in order against it (so two rows with the same new email land on the same new profile),
and the store writes the difference. No database access here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from feeds.mapping import IDENTITY_TYPES
from feeds.mapping.pages import NO_IDENTITY, Rejection
from feeds.profiles.models import run_key

MATCH_ORDER = IDENTITY_TYPES[1:]  # customer_id is the login id and is handled first
_RANK = {t: i for i, t in enumerate(MATCH_ORDER)}
CREATE_AND_UPDATE, UPDATE_ONLY, READ_ONLY = "create_and_update", "update_only", "read_only"


@dataclass(frozen=True)
class IdentityConflict:
    row_key: str
    identity_type: str
    value: str
    owner_mpid: int


# One attribute value with its lineage, exactly as the profile's JSON document stores it:
# (value, feed id, run id, order). `order` is the source row's iterator value as a sortable key ("" when
# unknown); when the run wrote it is in the profile's `set_at`. A plain tuple: a page of new profiles makes
# ~15 per row, and a tuple costs a tenth of an object; loaded documents hold lists of the same shape.
Attr = tuple[Any, int | None, int | None, str] | list[Any]
VALUE: Final = 0
FEED: Final = 1
RUN: Final = 2
ORDER: Final = 3


@dataclass(eq=False)
class ProfileState:
    """A profile as loaded (`*_before`) and as the page leaves it."""

    id: int | None
    mpid: int
    identities: dict[str, str]
    attributes: dict[str, Attr]
    identities_before: dict[str, str] = field(default_factory=dict)
    attributes_before: dict[str, Attr] = field(default_factory=dict)
    created: bool = False
    changed: bool = False
    set_at: dict[str, str] = field(default_factory=dict)  # run key → when it wrote (Profile.set_at)
    set_at_before: dict[str, str] = field(default_factory=dict)
    origin: tuple[Any, Any, Any] | None = None  # Profile.origin: the lineage its stored [value] entries have


@dataclass
class StoreState:
    owners: dict[tuple[str, str], ProfileState] = field(default_factory=dict)
    by_mpid: dict[int, ProfileState] = field(default_factory=dict)

    def add(self, profile: ProfileState) -> None:
        self.by_mpid[profile.mpid] = profile
        for identity_type, value in profile.identities.items():
            self.owners[(identity_type, value)] = profile


@dataclass
class RowOutcome:
    row_key: str
    outcome: str  # create | update | unchanged | reject | skip
    reason: str = ""
    profile: ProfileState | None = None
    conflicts: list[IdentityConflict] = field(default_factory=list)
    # Filled only when the resolver keeps snapshots (the review step's preview).
    identities_before: dict[str, str] = field(default_factory=dict)
    attributes_before: dict[str, Any] = field(default_factory=dict)
    identities_after: dict[str, str] = field(default_factory=dict)
    attributes_after: dict[str, Any] = field(default_factory=dict)


def row_identities(batch: dict) -> dict[str, str]:
    """Return {identity type: value} of a batch (user identities, device ids, mp_deviceid), empty values left out."""
    found = {**(batch.get("user_identities") or {}), **(batch.get("device_info") or {})}
    if batch.get("mp_deviceid") not in (None, ""):
        found["mp_deviceid"] = batch["mp_deviceid"]
    return {t: str(v) for t, v in found.items() if t in IDENTITY_TYPES and v is not None and str(v).strip()}


def batch_mpid(batch: dict) -> int | None:
    value = batch.get("mpid")
    return None if value is None or value == "" else int(value)


def order_key(value: Any, tz: ZoneInfo) -> str:
    """Return a string that sorts like the iterator values of one feed ("" for no iterator)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=tz)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return f"{Decimal(value) + 10**18:040.6f}"  # fixed width, so text order is number order
    return str(value)


class Resolver:
    """Resolves rows one by one against a StoreState, in memory."""

    def __init__(
        self,
        state: StoreState,
        *,
        protection: str,
        feed_id: int | None,
        run_id: int | None,
        new_mpid: Callable[[], int],
        snapshots: bool = False,
        at: str | None = None,
    ) -> None:
        self.state, self.protection, self.snapshots = state, protection, snapshots
        self.feed_id, self.run_id, self.new_mpid = feed_id, run_id, new_mpid
        self.at = at  # when this page writes (None in a preview, which writes nothing)
        self.run_key = run_key(run_id)
        self.created: list[ProfileState] = []

    def resolve(
        self, batch: dict, row_key: str, order: str, identities: dict[str, str] | None = None
    ) -> RowOutcome:
        """Return what the row does to the store, and apply it to the in-memory state.

        `identities` are the batch's row_identities when the caller has them already.
        """
        if identities is None:
            identities = row_identities(batch)
        mpid = batch_mpid(batch)
        if not identities and mpid is None:
            return RowOutcome(row_key, "reject", NO_IDENTITY)
        if mpid is not None:
            profile = self.state.by_mpid.get(mpid)
            if profile is None:
                return RowOutcome(row_key, "reject", f"No profile has the MPID {mpid} in this environment.")
        else:
            profile = self.match(identities)
        if profile is None:
            if self.protection != CREATE_AND_UPDATE:
                return RowOutcome(row_key, "skip", self._skip_reason())
            profile = self._create()
        outcome = RowOutcome(row_key, "create" if profile.created and not profile.changed else "update")
        outcome.profile = profile
        if self.snapshots:
            outcome.identities_before = dict(profile.identities)
            outcome.attributes_before = {n: a[VALUE] for n, a in profile.attributes.items()}
        changed = False
        if self.protection != READ_ONLY:
            changed = self._claim(profile, identities, outcome) | self._set_attributes(profile, batch, order)
        if outcome.outcome == "update" and not changed:
            outcome.outcome = "unchanged"
        profile.changed = profile.changed or changed or outcome.outcome == "create"
        if self.snapshots:
            outcome.identities_after = dict(profile.identities)
            outcome.attributes_after = {n: a[VALUE] for n, a in profile.attributes.items()}
        return outcome

    def create_unseen(
        self, batches: list[dict], row_keys: list[str], identities: list[dict[str, str]], orders: list[str]
    ) -> dict[int, RowOutcome]:
        """Resolve, set-wise, the rows no other row and no stored profile can meet; return their outcomes.

        Such a row carries no MPID, and each of its (type, value) pairs is owned by no profile loaded for the
        page and appears in no other row of the page. Whatever order the page is applied in, it makes a new
        profile of its own (or is skipped under input protection) and touches nothing another row reads, so
        it is settled here in one pass and the ordered loop only walks the rows that can meet. On a first
        load that is nearly every row.
        """
        if self.snapshots:
            return {}
        seen: set[tuple[str, str]] = set()
        again: set[tuple[str, str]] = set()
        for pairs in identities:
            for pair in pairs.items():
                (again if pair in seen else seen).add(pair)
        blocked = again | (seen & self.state.owners.keys())
        unseen = [
            i
            for i, pairs in enumerate(identities)
            if pairs and blocked.isdisjoint(pairs.items()) and batch_mpid(batches[i]) is None
        ]
        if self.protection != CREATE_AND_UPDATE:
            reason = self._skip_reason()
            return {i: RowOutcome(row_keys[i], "skip", reason) for i in unseen}
        return {i: self._create_with(batches[i], row_keys[i], identities[i], orders[i]) for i in unseen}

    def _create_with(self, batch: dict, row_key: str, identities: dict[str, str], order: str) -> RowOutcome:
        """A new profile holding the row's identities and non-NULL attributes (what `resolve` makes of an unseen row)."""
        feed_id, run_id = self.feed_id, self.run_id
        attributes = batch.get("user_attributes") or {}
        document: dict[str, Attr] = {
            n: (v, feed_id, run_id, order) for n, v in attributes.items() if v is not None
        }
        profile = ProfileState(None, self.new_mpid(), dict(identities), document, created=True, changed=True)
        if document and self.at is not None:
            profile.set_at[self.run_key] = self.at
        self.state.add(profile)
        self.created.append(profile)
        return RowOutcome(row_key, "create", profile=profile)

    def match(self, identities: dict[str, str]) -> ProfileState | None:
        """Return the profile the row's identities point to, under the login-id rule, or None."""
        owners = self.state.owners
        customer_id = identities.get("customer_id")
        if customer_id is not None and ("customer_id", customer_id) in owners:
            return owners[("customer_id", customer_id)]
        others = [t for t in identities if t != "customer_id"]
        if len(others) > 1:
            others.sort(key=_RANK.__getitem__)
        for identity_type in others:
            owner = owners.get((identity_type, identities[identity_type]))
            if owner is None:
                continue
            # A profile with a login id is never matched by a row carrying a different one.
            if customer_id is None or "customer_id" not in owner.identities:
                return owner
        return None

    def _create(self) -> ProfileState:
        profile = ProfileState(None, self.new_mpid(), {}, {}, created=True)
        self.state.by_mpid[profile.mpid] = profile
        self.created.append(profile)
        return profile

    def _skip_reason(self) -> str:
        if self.protection == UPDATE_ONLY:
            return "No profile matches this row, and the feed's input protection is Update Only."
        return "No profile matches this row, and the feed's input protection is Read Only."

    def _claim(self, profile: ProfileState, identities: dict[str, str], outcome: RowOutcome) -> bool:
        """Give the row's identities to the profile; identities owned elsewhere stay there (a conflict)."""
        changed = False
        for identity_type, value in identities.items():
            owner = self.state.owners.get((identity_type, value))
            if owner is profile:
                continue
            if owner is not None:
                outcome.conflicts.append(IdentityConflict(outcome.row_key, identity_type, value, owner.mpid))
                continue
            old = profile.identities.get(identity_type)
            if old is not None:
                del self.state.owners[(identity_type, old)]  # one value per type: the old one is released
            profile.identities[identity_type] = value
            self.state.owners[(identity_type, value)] = profile
            changed = True
        return changed

    def _set_attributes(self, profile: ProfileState, batch: dict, order: str) -> bool:
        attributes = batch.get("user_attributes")
        if not attributes:
            return False
        if not profile.attributes:
            # Nothing to compare with or protect (a new profile): take the row's non-NULL values at once.
            feed_id, run_id = self.feed_id, self.run_id
            profile.attributes = {
                n: (v, feed_id, run_id, order) for n, v in attributes.items() if v is not None
            }
            return self._stamp(profile) if profile.attributes else False
        changed = False
        stored, feed_id = profile.attributes, self.feed_id
        for name, value in attributes.items():
            current = stored.get(name)
            if current is None:
                if value is not None:
                    stored[name] = (value, feed_id, self.run_id, order)
                    changed = True
                continue
            if order and current[FEED] == feed_id and current[ORDER] and current[ORDER] > order:
                continue  # an older row (a lookback re-read) never overwrites a newer value of its feed
            if value is None:
                del stored[name]
                changed = True
            elif type(current[VALUE]) is not type(value) or current[VALUE] != value:  # 1, 1.0, true differ
                stored[name] = (value, feed_id, self.run_id, order)
                changed = True
        return self._stamp(profile) if changed else False

    def _stamp(self, profile: ProfileState) -> bool:
        """Record when this run wrote the profile's values; returns True (the profile changed)."""
        if self.at is not None:
            profile.set_at[self.run_key] = self.at
        return True


def page_order(iterator_values: list, tz: ZoneInfo) -> tuple[list[int], list[str]]:
    """Return the row positions sorted by iterator value (stable) and each row's order key."""
    keys = [order_key(v, tz) for v in iterator_values]
    if any(k == "" for k in keys):
        return list(range(len(keys))), keys
    return sorted(range(len(keys)), key=keys.__getitem__), keys


def rejection(outcome: RowOutcome, batch: dict) -> Rejection:
    """Return the Rejection record for a rejected or skipped row."""
    values = {"user_identities": batch.get("user_identities") or {}, "mpid": batch.get("mpid")}
    return Rejection(outcome.row_key, outcome.reason, values)
