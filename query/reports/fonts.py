"""The report's fonts: Bitstream Vera, shipped inside the reportlab wheel, so every machine renders alike and
the PDF embeds (a subset of) them. Vera covers Latin-1 and Windows-1252; other characters show as blanks."""

from functools import cache

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

REGULAR = "TrackMintVera"
BOLD = "TrackMintVera-Bold"


@cache
def register() -> None:
    """Register the fonts with reportlab (its registry is process-wide; once is enough)."""
    pdfmetrics.registerFont(TTFont(REGULAR, "Vera.ttf"))
    pdfmetrics.registerFont(TTFont(BOLD, "VeraBd.ttf"))
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD)
