"""The quarantine's lifecycle (issue 27): what Postfix holds for privacy-milter, found,
explained, released safely or deleted on time.

Postfix's hold queue is the quarantine and `postqueue -j` its source of truth; the store
record (keyed by queue id and host) says why a message is there. One job per module:
settings.py ([quarantine]), postfix.py (postqueue/postcat/postsuper), held.py (the queue
joined with the records), events.py (the store's quarantine_events table), actions.py
(release, delete, expire under one lock), notices.py (the sender's notice, rate-limited),
watch.py (the daemon's hourly look at the hold queue), command.py (`privacy-milter
quarantine ...`). See docs/QUARANTINE.md.
"""
