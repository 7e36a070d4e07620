"""Values matched to their labels by where the OCR lines sit on the page.

Reading order is a guess: a value written lower than its label, a code printed under its label
beside a QR code, or a phone written into its cell can end up on another text line, or at the
end of the page. Here the page is a set of :class:`Box` es (OCR words joined into runs on one
text line, with their pixel boxes) split at the printed labels into cells; a label whose own
cell is empty takes the nearest unlabelled cell on its row to the right, or else the nearest
one below it, never across another label.

Also here: :class:`PageLayout`, what the pipeline carries from a page's OCR to extraction (the
boxes, and the tick boxes read from the image by :mod:`ingest.ticks`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ingest.extract.segments import clean, label_hits
from ingest.extraction_rules import FieldRule
from ingest.fields import compact_lines
from ingest.ocr.base import Word

#: Words of one text line further apart than this many line heights are separate boxes.
GAP_HEIGHTS = 1.2
#: A cell is on a label's row when the middles are this many heights apart at most.
ROW_HEIGHTS = 0.7
#: The value under a label starts at most this many label heights below the label's bottom.
BELOW_HEIGHTS = 2.6


@dataclass(frozen=True)
class Box:
    """A run of text on one line, with its pixel box; ``xs`` the left edge of each character
    and the right end (``len(text) + 1`` positions)."""

    text: str
    left: int
    top: int
    right: int
    bottom: int
    xs: tuple[int, ...] = ()

    @property
    def height(self) -> int:
        return max(1, self.bottom - self.top)

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2

    def x_at(self, index: int) -> int:
        """The x of the character boundary before ``text[index]``."""
        if len(self.xs) == len(self.text) + 1:
            return self.xs[max(0, min(index, len(self.text)))]
        return self.left + (self.right - self.left) * index // max(1, len(self.text))


@dataclass(frozen=True)
class PageLayout:
    """What extraction may use beside a page's text: its boxes and its tick boxes.

    ``ticks`` holds ``(option, ticked)`` for every option whose box was found on the image.
    """

    boxes: tuple[Box, ...] = ()
    ticks: tuple[tuple[str, bool], ...] = ()

    def ticked(self) -> Mapping[str, bool]:
        return dict(self.ticks)


def _char_weight(ch: str) -> float:
    return 0.55 if ord(ch) < 0x2E80 else 1.0


def _word_xs(text: str, left: int, right: int) -> list[int]:
    """Character boundaries inside one word, split in proportion to character widths."""
    total = sum(_char_weight(c) for c in text) or 1.0
    xs, acc = [left], 0.0
    for c in text:
        acc += _char_weight(c)
        xs.append(round(left + (right - left) * acc / total))
    return xs


def boxes_from_words(words: Sequence[Word]) -> tuple[Box, ...]:
    """Words grouped by their text line, joined into boxes where they stand close together."""
    lines: dict[tuple[int, int, int], list[Word]] = {}
    for w in words:
        lines.setdefault(w.line, []).append(w)
    boxes: list[Box] = []
    for line_words in lines.values():
        run: list[Word] = []
        for w in sorted(line_words, key=lambda w: w.left):
            if run and w.left - max(r.left + r.width for r in run) > GAP_HEIGHTS * max(
                w.height, *(r.height for r in run)
            ):
                boxes.extend(_box(run))
                run = []
            run.append(w)
        boxes.extend(_box(run))
    return tuple(boxes)


def _box(run: Sequence[Word]) -> list[Box]:
    text, xs = "", []
    for w in run:
        part = "".join(compact_lines(w.text))
        if not part:
            continue
        xs = xs[:-1] if xs else xs
        xs += _word_xs(part, w.left, w.left + w.width)
        text += part
    if not text:
        return []
    return [
        Box(
            text,
            min(w.left for w in run),
            min(w.top for w in run),
            max(w.left + w.width for w in run),
            max(w.top + w.height for w in run),
            tuple(xs),
        )
    ]


@dataclass(frozen=True)
class Cell:
    """A label and the text after it inside one box, or (``rule`` unset, ``labelled`` False)
    text standing without a label: a value waiting for its label."""

    rule: FieldRule | None
    labelled: bool
    text: str
    left: int  # where the label (or the text) starts
    value_left: int  # where the label ends
    right: int
    top: int
    bottom: int

    @property
    def height(self) -> int:
        return max(1, self.bottom - self.top)

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


def cells_of(
    boxes: Sequence[Box], pattern: re.Pattern[str], by_label: dict[str, FieldRule | None]
) -> list[Cell]:
    """Every box split at the labels it prints (as the page text is, :func:`label_hits`)."""
    cells: list[Cell] = []
    for box in boxes:
        hits = label_hits(box.text, pattern, by_label)
        head_end = hits[0][0] if hits else len(box.text)
        if clean(box.text[:head_end]):
            cells.append(_cell(box, None, False, 0, 0, head_end))
        for i, (start, end, rule) in enumerate(hits):
            stop = hits[i + 1][0] if i + 1 < len(hits) else len(box.text)
            cells.append(_cell(box, rule, True, start, end, stop))
    return cells


def _cell(
    box: Box, rule: FieldRule | None, labelled: bool, start: int, end: int, stop: int
) -> Cell:
    """The cell of ``box.text[start:stop]`` whose label ends at ``end``."""
    x = box.x_at
    return Cell(rule, labelled, box.text[end:stop], x(start), x(end), x(stop), box.top, box.bottom)


def _on_row(label: Cell, cell: Cell) -> bool:
    return abs(cell.middle - label.middle) <= ROW_HEIGHTS * max(label.height, cell.height)


def _right_of(label: Cell, cells: Sequence[Cell]) -> Cell | None:
    slack = label.height // 2
    row = [
        c
        for c in cells
        if c is not label and _on_row(label, c) and c.left >= label.value_left - slack
    ]
    ahead = sorted(row, key=lambda c: c.left)
    for c in ahead:
        if c.labelled:
            return None  # the next thing on the row is another label: no value here
        return c
    return None


def _below(label: Cell, cells: Sequence[Cell]) -> Cell | None:
    h = label.height
    span = (label.left - h, max(label.right, label.value_left) + h)
    under = [
        c
        for c in cells
        if c is not label
        and c.top >= label.middle
        and c.top - label.bottom <= BELOW_HEIGHTS * h
        and c.left < span[1]
        and c.right > span[0]
    ]
    under.sort(key=lambda c: (c.top, abs(c.left - label.left)))
    for c in under:
        if c.labelled:
            return None
        return c
    return None


def placed_values(rule: FieldRule, cells: Sequence[Cell]) -> list[str]:
    """Candidate values of ``rule``'s labels whose own cell is empty, best first: for each such
    label (in the page's box order) the nearest unlabelled cell right of it on its row, then
    the nearest one under it. The caller keeps the first that reads as the field's kind (a
    title beside a code's label is no code; the code under it is)."""
    out = []
    lines = rule.max_lines if rule.kind == "multiline" else 1
    for label in cells:
        if label.rule is not rule or clean(label.text):
            continue
        for found in (_right_of(label, cells), _below(label, cells)):
            if found is not None:
                out.append("".join(c.text for c in _wrapped(found, cells, lines)))
    return out


def empty_labels(rules: Sequence[FieldRule], cells: Sequence[Cell]) -> list[Cell]:
    """The labels of ``rules`` (option fields left out: their boxes decide) whose own cell is
    empty and that have no unlabelled cell right of them on their row or under them: a value
    printed there was not seen by OCR, or the cell is empty."""
    out = []
    for label in cells:
        rule = label.rule
        if rule is None or rule.kind == "option" or clean(label.text):
            continue
        if not any(rule is r for r in rules):
            continue
        if _right_of(label, cells) is None and _below(label, cells) is None:
            out.append(label)
    return out


def _wrapped(first: Cell, cells: Sequence[Cell], lines: int) -> list[Cell]:
    """A value and the unlabelled lines it wraps onto (left-aligned under it, on no row of
    labels), up to ``lines``."""
    out = [first]
    while len(out) < lines:
        last = out[-1]
        h = last.height
        nxt = [
            c
            for c in cells
            if not c.labelled
            and c not in out
            and abs(c.left - first.left) <= h
            and 0 <= c.top - last.bottom <= 0.8 * h
            and not any(o.labelled and _on_row(c, o) for o in cells)  # the next row's value
        ]
        if not nxt:
            break
        out.append(min(nxt, key=lambda c: c.top))
    return out


#: A value's next line continues it when it starts this many line heights from the value's
#: left edge at most, and at most this many line heights under the line before.
WRAP_ALIGN_HEIGHTS, WRAP_GAP_HEIGHTS = 1.5, 1.5
#: Shortest start of a line looked up among the boxes (shorter ones are too common to place).
_FIND_CHARS = 2


def _box_of(text: str, boxes: Sequence[Box]) -> tuple[Box, int] | None:
    """The one box printing the start of ``text``, and where in it; None when none or several."""
    head = text[:8]
    if len(head) < _FIND_CHARS:
        return None
    found = [(b, b.text.find(head)) for b in boxes if head in b.text]
    return found[0] if len(found) == 1 else None


def within_boxes(lines: Sequence[str], boxes: Sequence[Box]) -> tuple[list[str], bool]:
    """A value's text lines (the first one after its label) kept to where the page prints
    them: each line no further than the end of the box it starts in (the rest of the text line
    is another cell's, such as the next column's value), and a next line only when it lies
    right under the one before and starts at the value's left edge (a line far lower, or
    starting elsewhere, is a neighbour: the label under a seal, the next row).

    Returns:
        The lines kept (cut where needed) and whether anything was cut. A line whose box is
        not found (several boxes print it, or it is too short to place) is kept as it is.
    """
    kept: list[str] = []
    cut = False
    first: tuple[Box, int] | None = None
    previous: Box | None = None
    for n, line in enumerate(lines):
        key = clean(line)
        found = _box_of(key, boxes)
        if found is None:
            kept.append(line)
            previous = None
            continue
        box, at = found
        if n and first is not None and previous is not None and not _continues(
            first, previous, box
        ):
            return kept, True
        inside = box.text[at:]
        if n == 0:
            first = (box, box.x_at(at))
        previous = box
        spills = key.startswith(inside) and len(key) > len(inside)
        kept.append(inside if spills else line)
        cut = cut or spills
    return kept, cut


def _continues(first: tuple[Box, int], previous: Box, box: Box) -> bool:
    """Whether ``box`` goes on with the value that starts at ``first`` (box, left x)."""
    h = max(first[0].height, box.height)
    # Under the value's first character, or under its box's start (a label sharing the box
    # with its value makes the character's x an estimate).
    aligned = min(abs(box.left - first[1]), abs(box.left - first[0].left)) <= WRAP_ALIGN_HEIGHTS * h
    below = -0.3 * h <= box.top - previous.bottom <= WRAP_GAP_HEIGHTS * h
    return aligned and below
