"""Uploaded documents: only PDF, PNG or JPEG, no larger than the limit, and truly what their name says."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from prakerja.core.errors import InvalidInput

TYPES = {  # extension -> (content type, the bytes such a file starts with)
    ".pdf": ("application/pdf", b"%PDF-"),
    ".png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    ".jpg": ("image/jpeg", b"\xff\xd8\xff"),
    ".jpeg": ("image/jpeg", b"\xff\xd8\xff"),
}


class BadDocument(InvalidInput):
    code = "bad_document"
    message = _("%(name)s: %(reason)s")


def document_check(upload: Any) -> tuple[str, bytes]:
    """The content type the file's name claims, checked against the bytes it starts with; and its content."""
    suffix = Path(upload.name).suffix.lower()
    if suffix not in TYPES:
        raise BadDocument(name=upload.name, reason=_("only PDF, PNG or JPEG files are accepted."))
    if upload.size > settings.UPLOAD_MAX_BYTES:
        raise BadDocument(name=upload.name, reason=_("the file is larger than 5 MB."))
    content = upload.read()
    upload.seek(0)
    content_type, magic = TYPES[suffix]
    if not content.startswith(magic):
        raise BadDocument(name=upload.name, reason=_("the file is not the kind its name says."))
    return content_type, content
