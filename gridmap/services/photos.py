"""Worker photo files: where they are kept, which file a public URL names, placeholder photos.

Used by the card command, the demo and the public photo route, so all three agree on paths and
URLs; the storage rules live in ``gridmap.photos``.
"""

from __future__ import annotations

from gridmap.demo.photos import write_placeholder_photos as write_placeholder_photos
from gridmap.photos import photo_dir_from_settings as photo_dir_from_settings
from gridmap.photos import photo_file_in as photo_file_in
from gridmap.photos import public_photo_url as public_photo_url
