"""The old import path of the photo services, kept for the modules that still use it.

The services live by what they are for: ``uploads`` (upload slots, the API's own upload
route), ``verification`` (completing an upload), ``access`` (who sees a photo, reading one)
and ``attachments`` (attaching photos to records). New code imports from those.
"""

from fieldapi.photos.attachments import attach, release_uses
from fieldapi.photos.verification import on_verified

__all__ = ["attach", "on_verified", "release_uses"]
