"""The delivery-log reader: Postfix's smtp client lines -> Delivery rows (metadata only)."""

from .follow import FilePositionStore, LogFollower, Position, PositionStore, ReadStats
from .pair import Delivery, Pairer
from .parse import DeliveryLine, Event, TlsEstablished, TlsFailure, classify_line, parse_line

__all__ = ["Delivery", "DeliveryLine", "Event", "FilePositionStore", "LogFollower", "Pairer",
           "Position", "PositionStore", "ReadStats", "TlsEstablished", "TlsFailure",
           "classify_line", "parse_line"]
