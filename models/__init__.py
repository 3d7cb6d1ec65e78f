"""Tables, engine, sessions, migrations and settings. Imports nothing else of homecoming."""

from models.base import UTCDateTime, utcnow
from models.campaigns import CampaignKind, CampaignRun, Message, MessageStatus, Reason
from models.db import get_engine, session_scope, upgrade
from models.ingest import IngestRun, Quarantine
from models.predictions import ClusterModel, ClvFit
from models.segments import CustomerFeatures, SegmentMember, SegmentSnapshot
from models.settings import Settings, get_settings
from models.store import (
    Channel,
    Consent,
    ConsentStatus,
    Customer,
    CustomerCreate,
    CustomerPublic,
    Device,
    Interaction,
    Order,
    OrderLine,
    OrderReturn,
    Product,
    ReturnKind,
    ShipmentEvent,
    ShipmentStatus,
    SupportTicket,
)
from models.surveys import SurveyAnswer, SurveyAnswerChange
from models.topics import TOPICS, Topic, TopicOptOut

__all__ = [
    "TOPICS",
    "CampaignKind",
    "CampaignRun",
    "Channel",
    "ClusterModel",
    "ClvFit",
    "Consent",
    "ConsentStatus",
    "Customer",
    "CustomerCreate",
    "CustomerFeatures",
    "CustomerPublic",
    "Device",
    "IngestRun",
    "Interaction",
    "Message",
    "MessageStatus",
    "Order",
    "OrderLine",
    "OrderReturn",
    "Product",
    "Quarantine",
    "Reason",
    "ReturnKind",
    "SegmentMember",
    "SegmentSnapshot",
    "Settings",
    "ShipmentEvent",
    "ShipmentStatus",
    "SupportTicket",
    "SurveyAnswer",
    "SurveyAnswerChange",
    "Topic",
    "TopicOptOut",
    "UTCDateTime",
    "get_engine",
    "get_settings",
    "session_scope",
    "upgrade",
    "utcnow",
]
