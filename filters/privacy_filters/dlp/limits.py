"""Resource limits for one scan: what keeps a hostile message from costing unbounded time or memory."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Every cap is a count (bytes, characters, items) or a time; past a cap the rest is
    counted unscannable, with a reason (see mime.REASONS)."""

    max_message_bytes: int = 25 * MIB        # bytes of the raw message read (the rest is skipped)
    max_parts: int = 500                     # MIME leaves walked (nested messages included)
    max_part_bytes: int = 16 * MIB           # decoded size of one part or archive member
    max_part_chars: int = 16 * MIB           # text scanned from one part; the tail is skipped
    max_total_chars: int = 32 * MIB          # text scanned from the whole message
    max_depth: int = 4                       # nesting of zip-in-zip, message-in-message
    max_zip_members: int = 200
    max_zip_ratio: int = 100                 # uncompressed/compressed: above this is a bomb
    max_pdf_pages: int = 200
    max_xml_depth: int = 200                 # element nesting in one office XML part
    max_candidates: int = 10_000             # pattern matches examined per scan (decoy floods)
    max_scan_seconds: float = 5.0            # wall time of one scan, whatever the deadline
    pdf_worker: bool = True                  # PDFs are read in a child process killed at the deadline
    pdf_worker_mb: int = 1024                # address space of that child process
