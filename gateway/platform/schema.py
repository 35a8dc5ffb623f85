"""Table definitions (SQLAlchemy Core). Migrations in ./migrations must match these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on both databases.

    PostgreSQL keeps timestamptz; SQLite keeps naive UTC text, whose fixed-width format
    sorts correctly, so range conditions and keyset paging behave the same on both.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# A person's identifier as stored: an NHS number, or a local identifier as system|value
# (core.fhir.identifiers bounds each part so that the whole fits).
PATIENT_LENGTH = 255

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# The current version of each resource: what reads and searches return.
resources = Table(
    "resources",
    metadata,
    Column("resource_type", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", UTCDateTime, nullable=False),
    Column("content", Text, nullable=False),
    # What the consent decision point needs in SQL (migration 0004): the person's
    # identifier (an NHS number, or a local identifier as system|value: migration 0009),
    # the organisation the data comes from, and its data category.
    Column("patient", String(PATIENT_LENGTH), nullable=True),
    Column("origin", String(16), nullable=True),
    Column("data_category", String(32), nullable=True),
    Index("ix_resources_type_last_updated", "resource_type", "last_updated", "id"),
    Index("ix_resources_type_patient", "resource_type", "patient"),
)

# Every version ever written, the current one included (vread and _history).
resource_versions = Table(
    "resource_versions",
    metadata,
    Column("resource_type", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("version_id", Integer, primary_key=True),
    Column("last_updated", UTCDateTime, nullable=False),
    Column("method", String(8), nullable=False),
    Column("content", Text, nullable=False),
    # Each version's own sharing facts and parties (migration 0008), so that vread and
    # _history decide every version on what it was, not on what the record is now.
    Column("patient", String(PATIENT_LENGTH), nullable=True),
    Column("origin", String(16), nullable=True),
    Column("data_category", String(32), nullable=True),
    # JSON: [[ods_code, basis], ...] as resource_parties held them for this version.
    Column("parties", Text, nullable=True),
)

# One row per indexed value of the current version. Token and reference values use
# system/value; dates use low/high (inclusive bounds in UTC, open ends as sentinels).
# The resource's last_updated is copied here so that "this recipient's escalations since
# T" is one index range, whose cost follows the answer and not the recipient's history.
search_index = Table(
    "search_index",
    metadata,
    Column("resource_type", String(64), nullable=False),
    Column("resource_id", String(64), nullable=False),
    Column("param", String(64), nullable=False),
    Column("system", String(255), nullable=True),
    Column("value", String(255), nullable=True),
    Column("low", UTCDateTime, nullable=True),
    Column("high", UTCDateTime, nullable=True),
    Column("last_updated", UTCDateTime, nullable=False),
    Index("ix_search_index_token", "resource_type", "param", "value", "last_updated"),
    Index("ix_search_index_date", "resource_type", "param", "low", "high"),
    Index("ix_search_index_owner", "resource_type", "resource_id", "param"),
)

# Which organisations (by ODS code) are party to the current version of a resource, and
# in what role (requester, performer, sender, recipient, owner, author...). Reads and
# searches see a resource only through a row here for the caller's organisation.
resource_parties = Table(
    "resource_parties",
    metadata,
    Column("resource_type", String(64), primary_key=True),
    Column("resource_id", String(64), primary_key=True),
    Column("ods_code", String(16), primary_key=True),
    Column("basis", String(32), primary_key=True),
)

# Client assertion ids (jti) already used at the token endpoint, kept until the
# assertion expires: one row per use, so a replay fails even on another process.
used_assertions = Table(
    "used_assertions",
    metadata,
    Column("client_id", String(128), primary_key=True),
    Column("jti", String(255), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_used_assertions_expires_at", "expires_at"),
)

# The searches a POST _search made, so that its page links can name them by an opaque
# reference instead of repeating the parameters (NHS numbers) in a URL. Keyed by the
# SHA-256 of the reference (the reference itself is only ever in the client's hands),
# bound to the client that searched, kept until a while after it expires.
search_pages = Table(
    "search_pages",
    metadata,
    Column("reference_sha256", String(64), primary_key=True),
    Column("client_id", String(128), nullable=False),
    Column("resource_type", String(64), nullable=False),
    # JSON: [[name, value], ...], the search's parameters as applied.
    Column("parameters", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_search_pages_expires_at", "expires_at"),
)

# The access log (gateway.access_log). One row per AuditEvent: its canonical bytes, which
# are the Merkle leaf's data, the leaf hash, and the columns the IG search filters on.
# `seq` is insertion order only; `position` (the leaf index) is assigned later, in commit
# order, by the sequencer, so that requests never wait on each other to log.
audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("event_id", String(64), nullable=False),
    Column("position", BigInteger, nullable=True),
    Column("recorded", UTCDateTime, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("patient", String(PATIENT_LENGTH), nullable=True),
    Column("client_id", String(128), nullable=True),
    Column("ods_code", String(16), nullable=True),
    Column("subtype", String(64), nullable=False),
    Column("action", String(1), nullable=False),
    Column("outcome", SmallInteger, nullable=False),
    Column("purpose", String(64), nullable=True),
    Column("request_id", String(128), nullable=True),
    Index("ux_audit_events_event_id", "event_id", unique=True),
    Index("ux_audit_events_position", "position", unique=True),
    Index("ix_audit_events_patient", "patient", "recorded", "seq"),
    Index("ix_audit_events_recorded", "recorded", "seq"),
    # The sequencer's work list: only the few events not yet given a position.
    Index(
        "ix_audit_events_unsequenced",
        "seq",
        postgresql_where=text("position IS NULL"),
        sqlite_where=text("position IS NULL"),
    ),
)

# What an event names besides its patient and client, for the IG search: the data it
# touched (entity, "Type/id") and the end user's organisation and identifiers (agent).
audit_references = Table(
    "audit_references",
    metadata,
    Column("kind", String(8), primary_key=True),
    Column("value", String(255), primary_key=True),
    Column("event_seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
)

# Hashes of complete Merkle subtrees at every 4th level (4, 8, 12...); with the leaf
# hashes these give any root or proof from about a hundred hashes (gateway.access_log.merkle).
audit_nodes = Table(
    "audit_nodes",
    metadata,
    Column("level", SmallInteger, primary_key=True),
    Column("idx", BigInteger, primary_key=True),
    Column("hash", LargeBinary(32), nullable=False),
)

# Signed checkpoints (C2SP tlog-checkpoint notes, Ed25519), one per tree size.
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("signed_at", UTCDateTime, nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("signed", Text, nullable=False),  # SignedCheckpoint.to_json(), note included
)

# The newest checkpoint of each other party's log this gateway witnesses (POST
# /audit/witness): one row per origin, replaced only by a checkpoint proved to extend it.
audit_witnessed = Table(
    "audit_witnessed",
    metadata,
    Column("origin", String(255), primary_key=True),
    Column("tree_size", BigInteger, nullable=False),
    Column("note", Text, nullable=False),
    Column("witnessed_at", UTCDateTime, nullable=False),
)

# Each dataset received (gateway.handovers.service): who sent it under which id, the
# SHA-256 of the bytes as received, and what it became. The primary key makes a repeat
# of the sender's id fail at insert, even when two copies arrive at once; the request id
# (X-Request-ID as sent) likewise, per sender.
dataset_submissions = Table(
    "dataset_submissions",
    metadata,
    Column("sender_ods", String(16), primary_key=True),
    Column("external_id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("request_id", String(128), nullable=True),
    Column("body_sha256", String(64), nullable=False),
    Column("service_request_id", String(64), nullable=False),
    Column("communication_id", String(64), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    # The referral checklist's warnings: the field paths found missing, as JSON.
    Column("gaps", Text, nullable=False),
    Index("ix_dataset_submissions_sender_ods_request_id", "sender_ods", "request_id", unique=True),
    Index("ix_dataset_submissions_service_request_id", "service_request_id", unique=True),
    Index("ix_dataset_submissions_communication_id", "communication_id", unique=True),
)

# Deliveries to Trusts' systems (gateway.exchange), written in the transaction of what
# they deliver. `seq` orders deliveries to one endpoint about one person (an update never
# overtakes its create); `id` is the X-Request-ID every attempt carries.
outbox = Table(
    "outbox",
    metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("id", String(36), nullable=False),
    Column("destination", String(16), nullable=False),  # the receiving organisation's ODS code
    Column("patient", String(PATIENT_LENGTH), nullable=True),
    Column("kind", String(16), nullable=False),  # handover | escalation | update
    Column("service_request_id", String(64), nullable=False),
    Column("correlation_id", String(128), nullable=False),
    Column("body", Text, nullable=False),  # the exact bytes every attempt sends
    # Who asked for the delivery, as the consent re-check before each attempt needs it.
    Column("sender_ods", String(16), nullable=False),
    Column("sender_client", String(128), nullable=False),
    Column("sender_role", String(32), nullable=True),
    Column("purpose", String(32), nullable=False),
    Column("justification", Text, nullable=True),
    # JSON: each resource's sharing facts, which the re-check decides on (migration 0007).
    Column("sharing", Text, nullable=True),
    # queued | in-flight | retrying | delivered | dead | stopped
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("leased_by", String(64), nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("receiver_reference", String(256), nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    # A Subscription's notification (kind "notification", migration 0013): the URL and
    # method it goes with, the channel's headers (JSON), the Subscription, and the
    # version it is about ("Type/id/_history/n"). None for a delivery to an endpoint.
    Column("url", String(2048), nullable=True),
    Column("method", String(8), nullable=True),
    Column("headers", Text, nullable=True),
    Column("subscription_id", String(64), nullable=True),
    Column("resource", String(200), nullable=True),
    Index("ux_outbox_id", "id", unique=True),
    Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
    Index("ix_outbox_destination_patient_seq", "destination", "patient", "seq"),
    Index("ix_outbox_service_request_id", "service_request_id"),
    Index("ix_outbox_subscription_id", "subscription_id"),
)

# FHIR Subscriptions (rest-hook), one row each, their current version (migration 0013).
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(64), primary_key=True),
    # The organisation (ODS code) and client that created it: only that organisation
    # reads or changes it, and it is notified as that client.
    Column("owner", String(16), nullable=False),
    Column("owner_client", String(128), nullable=False),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),  # requested | active | error | off
    Column("resource_type", String(64), nullable=False),  # what the criteria search
    Column("criteria", Text, nullable=False),  # Type?parameters, as checked
    Column("endpoint", String(2048), nullable=False),
    Column("payload", String(64), nullable=True),  # application/fhir+json, or none
    Column("headers", Text, nullable=True),  # JSON [[name, value], ...]
    Column("end_at", UTCDateTime, nullable=True),
    # Notifications that failed in a row; at the limit the status becomes error.
    Column("failures", Integer, nullable=False),
    Column("error", String(500), nullable=True),
    Column("content", Text, nullable=False),  # the FHIR JSON as served
    # What every write looks up: the active subscriptions to the written type.
    Index(
        "ix_subscriptions_active_type",
        "resource_type",
        postgresql_where=text("status = 'active'"),
        sqlite_where=text("status = 'active'"),
    ),
    Index("ix_subscriptions_owner", "owner"),
)

# Each step of an escalation's ladder (gateway.handovers.ladder): the escalation summary
# received or stepped up to, its level, and the deadline by which its receiver must
# respond. The deadline watcher finds open steps that are due by (state, deadline), and
# takes each by a conditional update of its state, so one process acts on it, once.
escalation_steps = Table(
    "escalation_steps",
    metadata,
    Column("communication_id", String(64), primary_key=True),
    Column("service_request_id", String(64), nullable=False),
    # The first step's ServiceRequest id: what every step of one escalation shares.
    Column("escalation_id", String(64), nullable=False),
    Column("step", SmallInteger, nullable=False),
    Column("level", String(16), nullable=False),
    Column("patient", String(PATIENT_LENGTH), nullable=True),
    Column("sender_ods", String(16), nullable=False),
    Column("receiver_ods", String(16), nullable=False),
    Column("pathway", String(32), nullable=False),
    Column("locality", String(64), nullable=True),
    Column("priority", String(16), nullable=True),
    # Who sent the first step, on whose behalf a step-up is made and delivered.
    Column("sender_client", String(128), nullable=False),
    Column("sender_role", String(32), nullable=True),
    Column("purpose", String(32), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("deadline", UTCDateTime, nullable=True),
    # open | answered | missed | superseded | unwatched (no deadline applies)
    Column("state", String(16), nullable=False),
    Column("answered_at", UTCDateTime, nullable=True),
    Column("answered_by", String(16), nullable=True),
    Column("acted_at", UTCDateTime, nullable=True),  # when the watcher found it missed
    Column("acted_by", String(64), nullable=True),  # which process
    Index("ix_escalation_steps_state_deadline", "state", "deadline"),
    Index("ix_escalation_steps_escalation_id", "escalation_id"),
    Index("ix_escalation_steps_service_request_id", "service_request_id", unique=True),
    Index("ix_escalation_steps_patient_received_at", "patient", "received_at"),
)

# Interface delays: a step whose deadline passed with no response, as a fact the
# governance reports count. No patient data: which step, which level, how late, and
# between whom, on which pathway and in which locality.
interface_delays = Table(
    "interface_delays",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("communication_id", String(64), nullable=False),
    Column("service_request_id", String(64), nullable=False),
    Column("escalation_id", String(64), nullable=False),
    Column("step", SmallInteger, nullable=False),
    Column("level", String(16), nullable=False),
    Column("sender_ods", String(16), nullable=False),
    Column("receiver_ods", String(16), nullable=False),
    Column("pathway", String(32), nullable=False),
    Column("locality", String(64), nullable=True),
    Column("priority", String(16), nullable=True),
    Column("deadline", UTCDateTime, nullable=False),
    Column("detected_at", UTCDateTime, nullable=False),
    Column("responded_at", UTCDateTime, nullable=True),  # a late response, when it came
    Column("action", String(16), nullable=False),  # step-up | notify
    Index("ix_interface_delays_communication_id", "communication_id", unique=True),
    Index("ix_interface_delays_receiver_ods_detected_at", "receiver_ods", "detected_at"),
    Index("ix_interface_delays_sender_ods_detected_at", "sender_ods", "detected_at"),
)

# Manager reviews (gateway.handovers.reviews): opened for the sending organisation when
# escalations about one person repeat (pathways.yaml `repeat_escalations`), closed with
# the finding the governance reports count. One open review per person and sender.
manager_reviews = Table(
    "manager_reviews",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("sender_ods", String(16), nullable=False),
    Column("patient", String(PATIENT_LENGTH), nullable=False),
    Column("pathway", String(32), nullable=False),
    # The escalation that made it a repeat (its first step's ServiceRequest id).
    Column("escalation_id", String(64), nullable=False),
    Column("escalations", Integer, nullable=False),  # how many, within the window
    Column("within_days", Integer, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False),  # open | closed
    # delay-internal | interface-related | neither
    Column("finding", String(32), nullable=True),
    Column("detail", Text, nullable=True),
    Column("plan_change", Text, nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("closed_by", String(128), nullable=True),  # the client that closed it
    Index("ix_manager_reviews_sender_ods_state_opened_at", "sender_ods", "state", "opened_at"),
    Index("ix_manager_reviews_sender_ods_patient_state", "sender_ods", "patient", "state"),
)

# Restrictions on a person (gateway.safeguarding.restrictions): what searches and the
# deadline watcher need of each restriction Flag's current version, written in the same
# transaction as the version. Its content is the Flag's; this is its index and its clock.
restrictions = Table(
    "restrictions",
    metadata,
    Column("id", String(64), primary_key=True),  # the Flag's id
    Column("author", String(16), nullable=False),  # ODS code: the one organisation writing it
    Column("patient", String(PATIENT_LENGTH), nullable=False),  # NHS number
    Column("kind", String(32), nullable=False),
    Column("state", String(16), nullable=False),  # active | ended
    Column("start", UTCDateTime, nullable=False),
    Column("time_limit", UTCDateTime, nullable=False),
    Column("review_due", UTCDateTime, nullable=True),  # none once ended
    Column("last_review_at", UTCDateTime, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("end_reason", String(16), nullable=True),  # review | time-limit
    Column("version_id", Integer, nullable=False),  # the Flag's current version
    # The process that ended it at its time limit (conditional UPDATE: exactly one does).
    Column("expired_by", String(128), nullable=True),
    Index("ix_restrictions_state_time_limit", "state", "time_limit"),
    Index("ix_restrictions_author_state", "author", "state"),
    Index("ix_restrictions_patient", "patient"),
)

# Safeguarding deadlines (gateway.safeguarding.overdue): each level of the owner's
# safeguarding ladder an overdue record has reached. The first row of a record is its
# own deadline (an action's, a restriction's review date), at the ladder's first level;
# when it is missed the row is marked missed (the interface delay, as a fact the
# governance reports count: no patient data beyond the person's identifier) and a row
# at the next level opens, until the work is done (met) or the ladder's top is missed.
safeguarding_deadlines = Table(
    "safeguarding_deadlines",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),  # action | review
    Column("record_type", String(32), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("patient", String(PATIENT_LENGTH), nullable=False),
    Column("owner_ods", String(16), nullable=False),  # whose ladder; who must act
    Column("told", String(200), nullable=False),  # others told, ODS codes, space-separated
    # On whose behalf the notices are written (an action's requester, a restriction's
    # author): the sharing policy decides them as that organisation's.
    Column("on_behalf_ods", String(16), nullable=False),
    Column("on_behalf_client", String(128), nullable=False),
    Column("on_behalf_role", String(32), nullable=True),
    Column("purpose", String(32), nullable=False),
    Column("locality", String(64), nullable=True),
    Column("priority", String(16), nullable=True),
    Column("level", String(16), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),  # the record's own deadline
    Column("deadline", UTCDateTime, nullable=False),  # this level's
    Column("opened_at", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False),  # open | met | missed
    Column("met_at", UTCDateTime, nullable=True),
    Column("acted_at", UTCDateTime, nullable=True),  # when the watcher found it missed
    Column("acted_by", String(64), nullable=True),
    Column("action", String(16), nullable=True),  # step-up | notify
    Column("notice_id", String(64), nullable=True),  # the Communication that told them
    Index("ix_safeguarding_deadlines_state_deadline", "state", "deadline"),
    Index("ix_safeguarding_deadlines_record", "record_type", "record_id"),
    Index("ix_safeguarding_deadlines_owner_ods_acted_at", "owner_ods", "acted_at"),
)

# Safeguarding actions (gateway.safeguarding): one row per action's Task, kept in step
# with it in the same transaction, for the tracker's queries and the weekly huddle.
safeguarding_actions = Table(
    "safeguarding_actions",
    metadata,
    Column("task_id", String(64), primary_key=True),
    Column("requester_ods", String(16), nullable=False),
    Column("owner_ods", String(16), nullable=False),
    Column("patient", String(PATIENT_LENGTH), nullable=False),
    Column("kind", String(64), nullable=False),
    # requested | accepted | in-progress | completed | cancelled
    Column("status", String(16), nullable=False),
    Column("deadline", UTCDateTime, nullable=False),
    # The ladder's: routine | urgent | very-urgent | emergency
    Column("priority", String(16), nullable=False),
    Column("locality", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
    Index("ix_safeguarding_actions_owner_ods_status", "owner_ods", "status", "deadline"),
    Index("ix_safeguarding_actions_requester_ods_status", "requester_ods", "status", "deadline"),
    Index("ix_safeguarding_actions_patient", "patient"),
)
# Partner contacts recorded against an action (each a Communication), for the huddle.
safeguarding_contacts = Table(
    "safeguarding_contacts",
    metadata,
    Column("communication_id", String(64), primary_key=True),
    Column("task_id", String(64), nullable=False),
    Column("sender_ods", String(16), nullable=False),
    Column("recipient_ods", String(16), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Index("ix_safeguarding_contacts_task_id", "task_id"),
    Index("ix_safeguarding_contacts_sent_at", "sent_at"),
)

# Requests to reload the configuration in every process sharing the store (`gateway
# config reload`, or SIGHUP to one process): each process remembers the newest it has
# acted on and reloads from its own configuration directory when a newer one appears
# (gateway.configuration.cluster). The fingerprint is the requester's directory's, so a
# process whose files differ says so. No patient data.
configuration_reloads = Table(
    "configuration_reloads",
    metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("requested_by", String(255), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
)

# Client rate limits shared by every process on PostgreSQL (gateway.auth.shared_rate_limit):
# one token bucket per client, taken from with one atomic upsert. Times are the
# database's clock (epoch seconds), so the processes' clocks need not agree.
rate_limit_buckets = Table(
    "rate_limit_buckets",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("admitted", Boolean, nullable=False),
)
