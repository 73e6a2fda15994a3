"""Field work: inspections against a checklist, the hazards they find, and rectifications.

An inspection is written as a draft, then submitted: its photos are attached (and judged),
each failed item becomes a hazard of the building, and a submission enters the review chain.
A record submitted while its photos are still uploading waits (``waiting_photos``) and is
submitted by the server when the last one is verified.

Where things are: ``inspections`` (drafts and their changes), ``inspection_submission``
(submitting one, and what its closing changes on the building), ``hazards`` (reported or
raised by failed items), ``rectifications``, ``resubmission`` (returned work sent back),
``photo_waits`` and ``photo_arrival`` (records waiting for their photos, and the last photo
submitting them), ``evidence`` (the photos a record names), ``risk`` (a building's risk
level), ``policy`` (the configurable rules), ``records`` (what they all share: lookups, audit,
the locking order), ``present`` (the API's answers and their ETags), ``timeline``.
"""
