"""Phone photos of a page: find the sheet on the table, flatten its perspective and lighting.

A scanner gives the page and nothing else; a phone gives the page at an angle on a darker desk,
lit unevenly. ``flatten_photo`` finds the sheet as the largest bright four-cornered region,
warps it to a rectangle (the page as a scanner would have given it) and evens out the light
(each pixel against the local paper brightness). Scans, where the page fills the frame or no
clear sheet edge is seen, are returned unchanged.
"""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

#: The search runs on a copy with this long side (pixels).
WORK_SIDE = 1000
#: The sheet must cover at least this share of the photo.
MIN_PAGE_AREA = 0.30
#: A corner nearer than this (share of the diagonal) to the photo's border lies on the frame.
FRAME_CORNER = 0.005
#: The sheet must be at least this much brighter (grey levels) than what surrounds it.
MIN_CONTRAST = 25.0

Quad = np.ndarray  # (4, 2) float32: top-left, top-right, bottom-right, bottom-left


def find_sheet(image: Image.Image) -> Quad | None:
    """The sheet's corners in image pixels, or None when the image is not a photo of a sheet."""
    if min(image.size) < 64:  # an icon, a sliver: nothing to find
        return None
    import cv2  # noqa: PLC0415 - opencv comes with rapidocr; loaded only when a page is read

    factor = min(1.0, WORK_SIDE / max(image.size))
    small_size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    grey = np.asarray(image.convert("L").resize(small_size, Image.Resampling.BOX))
    blurred = cv2.GaussianBlur(grey, (5, 5), 0)
    _, bright = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (15, 15))
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, kernel)  # text holes filled
    bright = cv2.morphologyEx(bright, cv2.MORPH_OPEN, kernel)  # specks on the desk gone
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    sheet = cv2.convexHull(max(contours, key=cv2.contourArea))
    area = cv2.contourArea(sheet)
    if area < MIN_PAGE_AREA * grey.shape[0] * grey.shape[1]:
        return None
    quad = _four_corners(sheet, cv2)
    if quad is None or _is_frame(quad, grey.shape[1], grey.shape[0]):
        return None
    if not _contrasts(grey, quad, cv2):
        return None
    return (quad / factor).astype(np.float32)


def _four_corners(hull: np.ndarray, cv2) -> Quad | None:  # noqa: ANN001 - the cv2 module
    perimeter = cv2.arcLength(hull, True)
    for share in (0.01, 0.02, 0.03, 0.04, 0.05):
        approx = cv2.approxPolyDP(hull, share * perimeter, True)
        if len(approx) == 4:
            return _ordered(approx.reshape(4, 2).astype(np.float32))
    return None


def _ordered(points: np.ndarray) -> Quad:
    total = points.sum(axis=1)
    diff = points[:, 1] - points[:, 0]
    return np.array([points[np.argmin(total)], points[np.argmin(diff)],
                     points[np.argmax(total)], points[np.argmax(diff)]], dtype=np.float32)


def _is_frame(quad: Quad, width: int, height: int) -> bool:
    """The bright region is bounded by the frame, not by a sheet's edges on a desk.

    True when more than one corner lies on the photo's border: a scan (all four), or a page
    whose dark lower half (a picture, a black table) left only its upper part bright; cutting
    there would lose content, so only a sheet seen whole (one corner may be cut off) counts.
    """
    reach = FRAME_CORNER * float(np.hypot(width, height))
    x, y = quad[:, 0], quad[:, 1]
    border = np.minimum(np.minimum(x, width - x), np.minimum(y, height - y))
    return int(np.count_nonzero(border <= reach)) > 1


def _contrasts(grey: np.ndarray, quad: Quad, cv2) -> bool:  # noqa: ANN001 - the cv2 module
    inside = np.zeros(grey.shape, dtype=np.uint8)
    cv2.fillConvexPoly(inside, quad.astype(np.int32), 255)
    if not (inside == 0).any():
        return False
    return float(grey[inside > 0].mean()) - float(grey[inside == 0].mean()) >= MIN_CONTRAST


def flatten_photo(image: Image.Image) -> tuple[Image.Image, bool]:
    """The sheet cut out, made rectangular and evenly lit; ``(image, False)`` when no sheet.

    The result has no resolution of its own (``info["dpi"]`` removed): the caller's resolution
    step sizes it as a page.
    """
    quad = find_sheet(image)
    if quad is None:
        return image, False
    import cv2  # noqa: PLC0415 - see find_sheet

    top, right = np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[1])
    bottom, left = np.linalg.norm(quad[2] - quad[3]), np.linalg.norm(quad[3] - quad[0])
    width, height = round(max(top, bottom)), round(max(left, right))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad, target)
    array = np.asarray(image)
    flat = cv2.warpPerspective(array, matrix, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
    out = Image.fromarray(_even_light(flat, cv2))
    log.debug("phone photo: sheet %dx%d cut out of %dx%d", width, height, *image.size)
    return out, True


def _even_light(array: np.ndarray, cv2) -> np.ndarray:  # noqa: ANN001 - the cv2 module
    """Divide by the local paper brightness (a wide closing of the page), back to white paper."""
    grey = array if array.ndim == 2 else cv2.cvtColor(array, cv2.COLOR_RGB2GRAY)
    scale = max(1, round(max(grey.shape) / 250))
    small = cv2.resize(grey, (max(1, grey.shape[1] // scale), max(1, grey.shape[0] // scale)),
                       interpolation=cv2.INTER_AREA)
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(
        cv2.MORPH_RECT, (9, 9)))  # text removed: the paper's own brightness remains
    paper = cv2.GaussianBlur(paper, (0, 0), 3)
    paper = cv2.resize(paper, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_LINEAR)
    gain = 245.0 / np.maximum(paper.astype(np.float32), 1.0)
    if array.ndim == 3:
        gain = gain[..., None]
    return np.clip(array.astype(np.float32) * gain, 0, 255).astype(np.uint8)


__all__ = ["find_sheet", "flatten_photo"]
