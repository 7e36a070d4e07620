"""Synthetic Chinese customer documents with ground truth, for tests, the demo and benchmarks.

``generate(kind, seed=..., degradation=...)`` draws one page with Pillow and a CJK font and
returns the image together with what is printed on it (``truth``). The same kind and seed always
give the same pixels. Identification numbers are valid: the USCC carries its GB 32100 check
character, ID numbers their GB 11643 check digit, consistent with the printed birth date and sex.

Degradations are applied to the rendered page in a fixed order (``_ORDER``), except
``handwritten``, a render-time option for ``customer_form`` only: the canvas knows the requested
degradations and the form then draws its filled-in values (not the printed labels) by hand, in a
Kai font (AR PL UKai, Debian ``fonts-arphic-ukai``; the normal font, with a logged error, when it
is missing), blue-black ink and per-character jitter; its step in the degradation chain does
nothing. ``phone_photo`` (any kind) turns the page into a phone snapshot: keystone warp onto a
darker table, uneven lighting, slight blur, JPEG quality 70, same pixel size and dpi.

Truth keys: ``kind``; ``fields`` (English keys, printed values, dates ISO); ``lines`` (printed
text lines, for character error rates); ``degradations``; ``rotation`` (degrees the upright page
was turned counter-clockwise, PIL convention: 0/90/180/270); ``skew_degrees`` (counter-clockwise);
``is_blank``; ``dpi``; with ``handwritten``: ``handwriting`` (font, ink); with ``phone_photo``:
``phone_photo`` (page corners in the photo, table colour, lighting, blur, JPEG quality).

``python -m bench.samples OUT_DIR`` writes a small demo set.
"""

from __future__ import annotations

import io
import json
import logging
import math
import random
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import img2pdf
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

KINDS = (
    "business_license",
    "id_card",
    "id_card_back",
    "bank_permit",
    "customer_form",
    "contract",
    "blank",
    # the layouts of bench/layouts.py (issue 12): code under its label, tick boxes, cells
    "business_license_qr",
    "customer_form_cells",
)
DEGRADATIONS = (
    "noise",
    "blur",
    "skew",
    "rotate90",
    "rotate180",
    "rotate270",
    "lowres",
    "jpeg",
    "seal_over_text",
    "fax",
    "watermark",
    "show_through",
    "handwritten",
    "phone_photo",
)
#: Render-time options (drawn while the page is composed, not applied afterwards) and the kinds
#: that have them.
RENDER_OPTIONS = {"handwritten": ("customer_form", "customer_form_cells")}
FORMATS = ("jpeg", "png", "tiff", "bmp", "webp", "pdf")

_FONT_CANDIDATES = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
)
_SERIF_CANDIDATES = (
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    *_FONT_CANDIDATES,
)
_BOLD_CANDIDATES = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    *_FONT_CANDIDATES,
)
#: Brush-script (Kai) faces for hand-filled values: AR PL UKai CN from fonts-arphic-ukai.
_HAND_CANDIDATES = (("/usr/share/fonts/truetype/arphic/ukai.ttc", 0),)

INK = (20, 20, 20)
_NO_LINE_START = "，。；：、）)」》！？"
RED = (210, 30, 35)
HAND_INK = (25, 35, 110)  # blue-black ballpoint
WHITE = (255, 255, 255)

# ---------------------------------------------------------------------------------------------
# Built-in data
# ---------------------------------------------------------------------------------------------

_CITIES = (
    ("110105", "北京", "北京市朝阳区建国路{n}号"),
    ("310104", "上海", "上海市徐汇区漕溪北路{n}号"),
    ("440305", "深圳市", "广东省深圳市南山区科技园南路{n}号"),
    ("330106", "杭州", "浙江省杭州市西湖区文三路{n}号"),
    ("510107", "成都", "四川省成都市武侯区天府大道北段{n}号"),
    ("440106", "广州", "广东省广州市天河区体育西路{n}号"),
    ("320106", "南京", "江苏省南京市鼓楼区中山北路{n}号"),
    ("420106", "武汉", "湖北省武汉市武昌区中北路{n}号"),
)
_COMPANY_CORES = ("星辰", "华瑞", "鹏程", "恒信", "金桥", "博远", "嘉禾", "锦程", "东方", "宏达")
_COMPANY_TRADES = (
    ("科技", "技术开发、技术咨询、技术服务"),
    ("贸易", "日用百货、五金交电、电子产品的销售"),
    ("电子", "电子元器件的研发、生产与销售"),
    ("物流", "普通货物仓储服务、国内货物运输代理"),
    ("软件", "软件开发、信息系统集成服务"),
    ("文化传媒", "组织文化艺术交流活动、广告设计与制作"),
)
_COMPANY_TYPES = (
    "有限责任公司(自然人投资或控股)",
    "有限责任公司(自然人独资)",
    "股份有限公司(非上市)",
)
_SCOPE_EXTRA = (
    "企业管理咨询",
    "会议及展览服务",
    "办公用品销售",
    "计算机软硬件及辅助设备零售",
    "货物进出口",
    "市场营销策划",
)
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林罗高"
_GIVEN = ("伟", "芳", "娜", "敏", "静", "磊", "洋", "杰", "婷", "强", "军", "丽", "建国", "海燕",
          "志强")
_ETHNICITIES = ("汉", "汉", "汉", "汉", "回", "满", "壮")
_BANKS = (
    "中国工商银行股份有限公司{city}分行营业部",
    "中国建设银行股份有限公司{city}支行",
    "招商银行股份有限公司{city}分行",
    "中国银行股份有限公司{city}分行",
)
_INDUSTRIES = ("制造业", "互联网", "金融", "零售", "IT服务")
_SOURCES = ("展会推广", "线上广告", "客户转介绍", "销售陌拜")
_CONTRACT_TITLES = ("技术服务合同", "产品采购合同", "软件开发合同", "仓储服务合同")
_CLAUSES = (
    "甲乙双方本着平等自愿、诚实信用的原则，经友好协商，就相关事宜达成如下协议，以资共同遵守。",
    "乙方应按照本合同约定的时间、质量和数量要求完成服务，并接受甲方的监督和检查。",
    "甲方应在收到乙方开具的合法有效发票后十五个工作日内支付相应款项。",
    "任何一方违反本合同约定的，应向守约方支付合同总金额百分之十的违约金。",
    "双方对在履行本合同过程中知悉的对方商业秘密负有保密义务，保密期限为合同终止后三年。",
    "因本合同引起的争议，双方应协商解决；协商不成的，任何一方均可向甲方所在地人民法院起诉。",
    "本合同一式两份，甲乙双方各执一份，自双方签字盖章之日起生效。",
)

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


@dataclass
class Sample:
    """One generated page: the image (``info["dpi"]`` set) and what is printed on it."""

    image: Image.Image
    truth: dict
    kind: str
    degradations: tuple[str, ...] = field(default=())


def generate(
    kind: str,
    *,
    seed: int,
    degradation: str | Sequence[str] | None = None,
    dpi: int = 300,
    identity: Mapping[str, str] | None = None,
) -> Sample:
    """Draw one synthetic document page.

    Args:
        kind: One of ``KINDS``.
        seed: Any integer; the same kind, seed, degradation and dpi give the same pixels.
        degradation: None, one name from ``DEGRADATIONS`` or several.
        dpi: Rendering resolution (the ``lowres`` degradation then halves it to 150).
        identity: Values that make documents of one customer agree (an ID card's ``name``;
            see :mod:`bench.layouts` for the others); the rest still comes from the seed.

    Returns:
        The page and its ground truth.

    Raises:
        ValueError: Unknown kind or degradation.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown sample kind {kind!r}; choose from {KINDS}")
    degradations = _as_tuple(degradation)
    unknown = [d for d in degradations if d not in DEGRADATIONS]
    if unknown:
        raise ValueError(f"unknown degradation(s) {unknown}; choose from {DEGRADATIONS}")
    for option, kinds in RENDER_OPTIONS.items():
        if option in degradations and kind not in kinds:
            raise ValueError(f"{option!r} applies to {kinds} only, not {kind!r}")
    rng = random.Random(f"{kind}:{seed}")
    canvas = _Canvas(dpi=dpi, landscape=kind.startswith("business_license"),
                     degradations=degradations, hand_rng=random.Random(f"hand:{kind}:{seed}"))
    canvas.identity = dict(identity or {})
    fields, lines = _renderer(kind)(canvas, rng)
    truth = {
        "kind": kind,
        "seed": seed,
        "fields": fields,
        "lines": lines,
        "degradations": list(degradations),
        "rotation": 0,
        "skew_degrees": 0.0,
        "is_blank": kind == "blank",
        "dpi": dpi,
    }
    if canvas.handwritten:
        truth["handwriting"] = {"font": " ".join(_font("hand", 46).getname()),
                                "ink": list(HAND_INK)}
    image = _degrade(canvas, rng=random.Random(f"degrade:{kind}:{seed}"), names=degradations,
                     truth=truth)
    return Sample(image=image, truth=truth, kind=kind, degradations=degradations)


def write_sample(
    sample: Sample | Sequence[Sample], path: Path | str, fmt: str | None = None
) -> Path:
    """Save one sample, or several as a multi-page TIFF or PDF.

    Args:
        sample: A sample, or a list of samples (pages in order).
        path: Output file; parent folders are created.
        fmt: ``jpeg``, ``png``, ``tiff``, ``bmp``, ``webp`` or ``pdf`` (image-only, via img2pdf);
            taken from the suffix when omitted.

    Returns:
        The path written.

    Raises:
        ValueError: Unknown format, or several pages for a single-page format.
    """
    path = Path(path)
    fmt = _normalize_fmt(fmt or path.suffix.lstrip("."))
    samples = [sample] if isinstance(sample, Sample) else list(sample)
    if not samples:
        raise ValueError("no samples to write")
    if len(samples) > 1 and fmt not in ("tiff", "pdf"):
        raise ValueError(f"{fmt} holds one page; use tiff or pdf for {len(samples)} pages")
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [s.image for s in samples]
    if fmt == "pdf":
        path.write_bytes(img2pdf.convert([_encode_for_pdf(im) for im in images]))
    elif fmt == "tiff":
        _save_tiff(images, path)
    else:
        _save_single(images[0], path, fmt)
    return path


def uscc_check_char(body: str) -> str:
    """GB 32100-2015 check character for the first 17 characters of a USCC.

    Raises:
        ValueError: A character outside the USCC alphabet (I, O, S, V, Z, lower case).
    """
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def id_check_digit(body: str) -> str:
    """GB 11643 (ISO 7064 MOD 11-2) check digit for the first 17 digits of an ID number."""
    total = sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


# ---------------------------------------------------------------------------------------------
# Identifiers and data
# ---------------------------------------------------------------------------------------------


def _org_code_check(body: str) -> str:
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def _make_uscc(rng: random.Random, division: str) -> str:
    letters = "ABCDEFGHJKLMNPQRTUWXY"
    if rng.random() < 0.6:
        org = "MA" + str(rng.randint(0, 9)) + rng.choice("0123456789ABCDEFGH")
        org += "".join(rng.choice("0123456789" + letters) for _ in range(4))
    else:
        org = "".join(rng.choice("0123456789") for _ in range(8))
    org += _org_code_check(org)
    body = "91" + division + org
    return body + uscc_check_char(body)


def _make_id_number(rng: random.Random, division: str, birth: date, male: bool) -> str:
    seq = rng.randint(0, 99) * 10 + rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
    body = f"{division}{birth:%Y%m%d}{seq:03d}"
    return body + id_check_digit(body)


def _person_name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + rng.choice(_GIVEN)


def _company(rng: random.Random) -> dict:
    division, city, street = rng.choice(_CITIES)
    trade, scope = rng.choice(_COMPANY_TRADES)
    name = f"{city}{rng.choice(_COMPANY_CORES)}{trade}有限公司"
    return {
        "division": division,
        "city": city.removesuffix("市"),
        "name": name,
        "address": street.format(n=rng.randint(1, 399)),
        "scope": scope,
        "uscc": _make_uscc(rng, division),
    }


def _random_date(rng: random.Random, start: int, end: int) -> date:
    first = date(start, 1, 1)
    return first + timedelta(days=rng.randint(0, (date(end, 12, 31) - first).days))


def _cn_date(d: date) -> str:
    return f"{d.year}年{d.month:02d}月{d.day:02d}日"


def _cn_amount(value: int) -> str:
    """Integer yuan as the uppercase financial numerals used on contracts (up to 9999亿)."""
    digits, units = "零壹贰叁肆伍陆柒捌玖", ("", "拾", "佰", "仟")

    def four(n: int) -> str:
        out, zero = "", False
        for i in range(3, -1, -1):
            d = n // 10**i % 10
            if d == 0:
                zero = bool(out)
            else:
                out += ("零" if zero else "") + digits[d] + units[i]
                zero = False
        return out

    parts = [(value // 10**8, "亿"), (value // 10**4 % 10**4, "万"), (value % 10**4, "")]
    text, pending_zero = "", False
    for n, unit in parts:
        if n == 0:
            pending_zero = bool(text)
            continue
        if text and (pending_zero or n < 1000):
            text += "零"
        text += four(n) + unit
        pending_zero = False
    return (text or "零") + "元整"


# ---------------------------------------------------------------------------------------------
# Drawing helpers
# ---------------------------------------------------------------------------------------------


def _find_font(candidates: Iterable[tuple[str, int]]) -> tuple[str, int] | None:
    """The first (path, face index) whose file exists."""
    return next(((path, index) for path, index in candidates if Path(path).is_file()), None)


@cache
def _font(style: str, size: int) -> ImageFont.FreeTypeFont:
    """``sans``, ``serif``, ``bold`` or ``hand`` (Kai; the sans font when none is installed)."""
    if style == "hand":
        found = _find_font(_HAND_CANDIDATES)
        if found is None:
            _missing_hand_font()
            return _font("sans", size)
        return ImageFont.truetype(found[0], size, index=found[1])
    candidates = {"sans": _FONT_CANDIDATES, "serif": _SERIF_CANDIDATES, "bold": _BOLD_CANDIDATES}
    found = _find_font(candidates[style])
    if found is None:
        raise RuntimeError("no CJK font found: install fonts-noto-cjk or fonts-wqy-zenhei")
    return ImageFont.truetype(found[0], size, index=found[1])


@cache
def _missing_hand_font() -> None:
    """Logged once per process: handwritten samples then fall back to the printed font."""
    logging.getLogger(__name__).error(
        "no Kai font for handwritten samples (looked for %s): install the Debian package "
        "fonts-arphic-ukai (scripts/bootstrap.sh); drawing hand-filled values in the normal "
        "font instead", ", ".join(path for path, _ in _HAND_CANDIDATES))


class _Canvas:
    """An A4 page in RGB with helpers working in 300-dpi units (scaled to the real dpi).

    ``degradations`` are the ones requested for the page: renderers consult them for
    render-time options (``handwritten``: :meth:`value` writes by hand, with ``hand_rng``).
    """

    def __init__(self, *, dpi: int, landscape: bool = False, degradations: Iterable[str] = (),
                 hand_rng: random.Random | None = None) -> None:
        self.dpi = dpi
        self.scale = dpi / 300
        w, h = round(8.27 * dpi), round(11.69 * dpi)
        self.image = Image.new("RGB", (h, w) if landscape else (w, h), WHITE)
        self.draw = ImageDraw.Draw(self.image)
        self.seal_spots: list[tuple[int, int]] = []  # centres where 'seal_over_text' may go
        self.degradations = frozenset(degradations)
        self.hand_rng = hand_rng or random.Random(0)
        self.identity: dict[str, str] = {}  # values the documents of one customer share

    @property
    def handwritten(self) -> bool:
        """Filled-in values are drawn by hand (render-time option ``handwritten``)."""
        return "handwritten" in self.degradations

    def px(self, v: float) -> int:
        return round(v * self.scale)

    def font(self, size: float, style: str = "sans") -> ImageFont.FreeTypeFont:
        return _font(style, max(6, self.px(size)))

    @property
    def width(self) -> int:
        return round(self.image.width / self.scale)

    @property
    def height(self) -> int:
        return round(self.image.height / self.scale)

    def text(self, x: float, y: float, s: str, size: float, *, style: str = "sans",
             fill: tuple[int, int, int] = INK, anchor: str = "la") -> None:
        self.draw.text((self.px(x), self.px(y)), s, font=self.font(size, style), fill=fill,
                       anchor=anchor)

    def value(self, x: float, y: float, s: str, size: float, *, anchor: str = "la") -> None:
        """A filled-in value: printed, or written by hand on a ``handwritten`` page."""
        if self.handwritten:
            self.handwrite(x, y, s, size, anchor=anchor)
        else:
            self.text(x, y, s, size, anchor=anchor)

    def labelled(self, x: float, y: float, label: str, value: str, size: float) -> None:
        """A printed label followed by its value (``value`` rules), top-left anchored."""
        if self.handwritten:
            self.text(x, y, label, size)
            self.handwrite(x + self.text_width(label, size), y, value, size, anchor="la")
        else:
            self.text(x, y, label + value, size)

    def handwrite(self, x: float, y: float, s: str, size: float, *, anchor: str = "la") -> None:
        """``s`` as if written with a ballpoint: Kai glyphs in ``HAND_INK``, one by one.

        Each character gets its own size (+-10 %), rotation (+-4 degrees), offset (up to 3 units
        either way), spacing and pressure; the baseline drifts slowly and slopes slightly.
        ``anchor`` is ``la`` (top left) or ``lm`` (left, middle), as for :meth:`text`.
        """
        rng = self.hand_rng
        ascent, descent = _font("hand", max(6, self.px(size))).getmetrics()
        baseline = self.px(y) + (ascent if anchor == "la" else (ascent - descent) / 2)
        pen, drift = float(self.px(x)), 0.0
        slope = math.tan(math.radians(rng.uniform(-0.8, 0.8)))
        for ch in s:
            font = _font("hand", max(6, self.px(size * rng.uniform(0.9, 1.1))))
            advance = font.getlength(ch)
            drift = max(-4.0, min(4.0, drift + rng.uniform(-1.5, 1.5)))
            if not ch.isspace():
                dx, dy = (self.px(rng.uniform(-3, 3)) for _ in range(2))
                base = baseline + (pen - self.px(x)) * slope + self.px(drift) + dy
                self._hand_glyph(ch, font, pen + dx, base, angle=rng.uniform(-4, 4),
                                 pressure=rng.uniform(0.82, 1.0))
            pen += advance * rng.uniform(1.0, 1.1)

    def _hand_glyph(self, ch: str, font: ImageFont.FreeTypeFont, x: float, baseline: float, *,
                    angle: float, pressure: float) -> None:
        pad = font.size // 2
        ascent, descent = font.getmetrics()
        mask = Image.new("L", (round(font.getlength(ch)) + 2 * pad, ascent + descent + 2 * pad), 0)
        ImageDraw.Draw(mask).text((pad, pad + ascent), ch, font=font, fill=round(255 * pressure),
                                  anchor="ls")
        left, top, right, bottom = font.getbbox(ch, anchor="ls")
        centre = (pad + (left + right) / 2, pad + ascent + (top + bottom) / 2)
        mask = mask.rotate(angle, resample=Image.Resampling.BICUBIC, center=centre)
        ink = Image.new("RGB", mask.size, HAND_INK)
        self.image.paste(ink, (round(x) - pad, round(baseline) - pad - ascent), mask)

    def text_width(self, s: str, size: float, style: str = "sans") -> float:
        return self.font(size, style).getlength(s) / self.scale

    def wrap(self, s: str, size: float, width: float, style: str = "sans") -> list[str]:
        lines, current = [], ""
        for ch in s:
            fits = self.text_width(current + ch, size, style) <= width
            if current and not fits and ch not in _NO_LINE_START:
                lines.append(current)
                current = ""
            current += ch
        return lines + ([current] if current else [])

    def rect(self, box: tuple[float, float, float, float], *, width: float = 3,
             outline: tuple[int, int, int] = INK, fill: tuple[int, int, int] | None = None,
             radius: float = 0) -> None:
        b = tuple(self.px(v) for v in box)
        self.draw.rounded_rectangle(b, radius=self.px(radius), outline=outline, fill=fill,
                                    width=max(1, self.px(width)))

    def line(self, xy: tuple[float, float, float, float], width: float = 3) -> None:
        self.draw.line(tuple(self.px(v) for v in xy), fill=INK, width=max(1, self.px(width)))


def _draw_seal(canvas: _Canvas, *, center: tuple[float, float], text: str, radius: float = 190,
               rng: random.Random | None = None) -> None:
    """A round red company seal (ring, star, name around the top), inked over the page."""
    size = canvas.px(radius * 2 + 20)
    layer = Image.new("RGB", (size, size), WHITE)
    d = ImageDraw.Draw(layer)
    c, r = size / 2, canvas.px(radius)
    d.ellipse((c - r, c - r, c + r, c + r), outline=RED, width=max(2, canvas.px(12)))
    _draw_star(d, c, c, canvas.px(radius * 0.32))
    font = canvas.font(radius * 0.26, "bold")
    chars = list(text)
    span = min(250.0, 22.0 * len(chars))
    for i, ch in enumerate(chars):
        angle = -90 - span / 2 + span * (i + 0.5) / len(chars)
        _paste_rotated_char(layer, ch, font, center=(c, c), radius=r * 0.74, angle_deg=angle)
    angle = (rng or random.Random(0)).uniform(-25, 25)
    layer = layer.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=WHITE)
    x, y = canvas.px(center[0]) - size // 2, canvas.px(center[1]) - size // 2
    region = canvas.image.crop((x, y, x + size, y + size))
    canvas.image.paste(ImageChops.multiply(region, layer), (x, y))


def _draw_star(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    pts = []
    for i in range(10):
        rad = r if i % 2 == 0 else r * 0.4
        a = math.radians(-90 + 36 * i)
        pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
    d.polygon(pts, fill=RED)


def _paste_rotated_char(layer: Image.Image, ch: str, font: ImageFont.FreeTypeFont, *,
                        center: tuple[float, float], radius: float, angle_deg: float) -> None:
    box = int(font.size * 1.4)
    glyph = Image.new("L", (box, box), 0)
    ImageDraw.Draw(glyph).text((box / 2, box / 2), ch, font=font, fill=255, anchor="mm")
    glyph = glyph.rotate(-(angle_deg + 90), resample=Image.Resampling.BICUBIC)
    a = math.radians(angle_deg)
    x = center[0] + radius * math.cos(a) - box / 2
    y = center[1] + radius * math.sin(a) - box / 2
    layer.paste(Image.new("RGB", (box, box), RED), (int(x), int(y)), glyph)


def _field_rows(canvas: _Canvas, *, x: float, y: float, rows: Iterable[tuple[str, str]],
                label_w: float, value_w: float, size: float, gap: float) -> tuple[float, list[str]]:
    """Label/value rows with wrapped values; returns the next y and the printed lines."""
    lines = []
    for label, value in rows:
        canvas.text(x, y, label, size, style="bold")
        wrapped = canvas.wrap(value, size, value_w)
        for i, part in enumerate(wrapped):
            canvas.text(x + label_w, y + i * size * 1.45, part, size)
        lines.append(f"{label} {wrapped[0]}")
        lines.extend(wrapped[1:])
        y += max(1, len(wrapped)) * size * 1.45 + gap
    return y, lines


# ---------------------------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------------------------


def _business_license(canvas: _Canvas, rng: random.Random) -> tuple[dict, list[str]]:
    co = _company(rng)
    established = _random_date(rng, 2005, 2023)
    long_term = rng.random() < 0.5
    term_end = None if long_term else established.replace(year=established.year + 20)
    term = f"{_cn_date(established)} 至 {'长期' if long_term else _cn_date(term_end)}"
    capital = f"人民币{rng.choice((50, 100, 200, 500, 1000, 3000))}万元"
    scope = "；".join([co["scope"], *rng.sample(_SCOPE_EXTRA, 3)])
    scope += "。（依法须经批准的项目，经相关部门批准后方可开展经营活动）"
    fields = {
        "uscc": co["uscc"],
        "name": co["name"],
        "company_type": rng.choice(_COMPANY_TYPES),
        "legal_representative": _person_name(rng),
        "registered_capital": capital,
        "established": established.isoformat(),
        "term_start": established.isoformat(),
        "term_end": term_end.isoformat() if term_end else None,
        "address": co["address"],
        "business_scope": scope,
        "registration_authority": f"{co['city']}市市场监督管理局",
    }
    canvas.rect((60, 60, canvas.width - 60, canvas.height - 60), width=14,
                outline=(170, 120, 40))
    canvas.rect((95, 95, canvas.width - 95, canvas.height - 95), width=4,
                outline=(170, 120, 40))
    canvas.text(canvas.width / 2, 300, "营业执照", 200, style="bold", anchor="mm")
    canvas.text(canvas.width / 2, 470, "（副    本）", 60, anchor="mm")
    canvas.text(220, 620, "统一社会信用代码", 54, style="bold")
    canvas.text(220 + canvas.text_width("统一社会信用代码", 54, "bold") + 40, 620, co["uscc"], 54)
    lines = ["营业执照", "（副 本）", f"统一社会信用代码 {co['uscc']}"]
    left = [("名        称", fields["name"]), ("类        型", fields["company_type"]),
            ("法定代表人", fields["legal_representative"]), ("经营范围", scope)]
    right = [("注册资本", capital), ("成立日期", _cn_date(established)),
             ("营业期限", term), ("住        所", co["address"])]
    _, left_lines = _field_rows(canvas, x=220, y=820, rows=left, label_w=330, value_w=1100,
                                size=50, gap=40)
    _, right_lines = _field_rows(canvas, x=1850, y=820, rows=right, label_w=300, value_w=1150,
                                 size=50, gap=40)
    lines += left_lines + right_lines
    issued = _random_date(rng, max(established.year, 2019), 2024)
    canvas.text(2400, 2000, "登记机关", 54, style="bold")
    canvas.text(2400, 2200, _cn_date(issued), 54)
    lines += ["登记机关", _cn_date(issued)]
    _draw_seal(canvas, center=(2700, 2080), text=fields["registration_authority"], rng=rng)
    canvas.seal_spots.append((1100, 950))
    return fields, lines


def _id_front(canvas: _Canvas, x: float, y: float, s: float, person: dict) -> list[str]:
    w, h = 856 * s, 540 * s
    canvas.rect((x, y, x + w, y + h), width=3, outline=(120, 120, 120), fill=(236, 236, 236),
                radius=40 * s)
    label, value = 30 * s, 38 * s
    rows = [("姓名", person["name"]), ("性别", person["gender"])]
    canvas.text(x + 60 * s, y + 60 * s, "姓名", label, fill=(90, 90, 90))
    canvas.text(x + 160 * s, y + 54 * s, person["name"], value)
    canvas.text(x + 60 * s, y + 140 * s, "性别", label, fill=(90, 90, 90))
    canvas.text(x + 160 * s, y + 134 * s, person["gender"], value)
    canvas.text(x + 300 * s, y + 140 * s, "民族", label, fill=(90, 90, 90))
    canvas.text(x + 400 * s, y + 134 * s, person["ethnicity"], value)
    b = date.fromisoformat(person["birth_date"])
    canvas.text(x + 60 * s, y + 220 * s, "出生", label, fill=(90, 90, 90))
    birth = f"{b.year} 年 {b.month} 月 {b.day} 日"
    canvas.text(x + 160 * s, y + 214 * s, birth, value)
    canvas.text(x + 60 * s, y + 300 * s, "住址", label, fill=(90, 90, 90))
    addr = canvas.wrap(person["address"], value, 420 * s)
    for i, part in enumerate(addr):
        canvas.text(x + 160 * s, y + (294 + i * 52) * s, part, value)
    canvas.text(x + 60 * s, y + 460 * s, "公民身份号码", label, fill=(90, 90, 90))
    canvas.text(x + 290 * s, y + 450 * s, person["id_number"], 44 * s)
    _draw_portrait(canvas, (x + 600 * s, y + 70 * s, x + 810 * s, y + 330 * s))
    del rows
    return [f"姓名 {person['name']}", f"性别 {person['gender']} 民族 {person['ethnicity']}",
            f"出生 {birth}", f"住址 {addr[0]}", *addr[1:], f"公民身份号码 {person['id_number']}"]


def _draw_portrait(canvas: _Canvas, box: tuple[float, float, float, float]) -> None:
    x0, y0, x1, y1 = box
    canvas.rect(box, width=1, outline=(200, 200, 200), fill=(215, 215, 215))
    cx, w = (x0 + x1) / 2, x1 - x0
    head = tuple(canvas.px(v) for v in (cx - w * 0.22, y0 + w * 0.15, cx + w * 0.22, y0 + w * 0.7))
    body = tuple(canvas.px(v) for v in (x0 + w * 0.08, y0 + w * 0.75, x1 - w * 0.08, y1 + w * 0.4))
    canvas.draw.ellipse(head, fill=(120, 120, 120))
    canvas.draw.chord(body, 180, 360, fill=(110, 110, 110))


def _id_back(canvas: _Canvas, x: float, y: float, s: float, person: dict) -> list[str]:
    w, h = 856 * s, 540 * s
    canvas.rect((x, y, x + w, y + h), width=3, outline=(120, 120, 120), fill=(236, 236, 236),
                radius=40 * s)
    canvas.draw.ellipse(tuple(canvas.px(v) for v in (x + 50 * s, y + 40 * s, x + 190 * s,
                                                     y + 180 * s)), outline=(120, 120, 120),
                        width=max(1, canvas.px(6 * s)))
    _draw_star(canvas.draw, canvas.px(x + 120 * s), canvas.px(y + 110 * s), canvas.px(40 * s))
    canvas.text(x + 260 * s, y + 60 * s, "中华人民共和国", 50 * s, style="bold")
    canvas.text(x + 260 * s, y + 140 * s, "居民身份证", 66 * s, style="bold")
    canvas.text(x + 100 * s, y + 360 * s, "签发机关", 30 * s, fill=(90, 90, 90))
    canvas.text(x + 260 * s, y + 354 * s, person["issuer"], 36 * s)
    start, end = date.fromisoformat(person["valid_from"]), date.fromisoformat(person["valid_to"])
    valid = f"{start:%Y.%m.%d}-{end:%Y.%m.%d}"
    canvas.text(x + 100 * s, y + 440 * s, "有效期限", 30 * s, fill=(90, 90, 90))
    canvas.text(x + 260 * s, y + 434 * s, valid, 36 * s)
    return ["中华人民共和国", "居民身份证", f"签发机关 {person['issuer']}", f"有效期限 {valid}"]


def _person(rng: random.Random) -> dict:
    division, city, street = rng.choice(_CITIES)
    male = rng.random() < 0.5
    birth = _random_date(rng, 1960, 2003)
    issued = _random_date(rng, 2012, 2024)
    years = 20 if birth.year > 1980 else 10
    return {
        "name": _person_name(rng),
        "gender": "男" if male else "女",
        "ethnicity": rng.choice(_ETHNICITIES),
        "birth_date": birth.isoformat(),
        "address": street.format(n=rng.randint(1, 399)) + f"{rng.randint(1, 30)}栋"
        f"{rng.randint(101, 2502)}室",
        "id_number": _make_id_number(rng, division, birth, male),
        "issuer": f"{city.removesuffix('市')}市公安局",
        "valid_from": issued.isoformat(),
        "valid_to": issued.replace(year=issued.year + years).isoformat(),
    }


def _id_card(canvas: _Canvas, rng: random.Random) -> tuple[dict, list[str]]:
    person = _person(rng)
    person["name"] = canvas.identity.get("name", person["name"])
    s = 1.45
    x = (canvas.width - 856 * s) / 2
    lines = _id_front(canvas, x, 350, s, person)
    lines += _id_back(canvas, x, 350 + 540 * s + 250, s, person)
    canvas.seal_spots.append((canvas.width / 2, 700))
    return person, lines


def _id_card_back(canvas: _Canvas, rng: random.Random) -> tuple[dict, list[str]]:
    """Only the emblem side of an ID card on the page: sparse but not blank."""
    person = _person(rng)
    s = 1.45
    x = (canvas.width - 856 * s) / 2
    lines = _id_back(canvas, x, 400, s, person)
    return {k: person[k] for k in ("issuer", "valid_from", "valid_to")}, lines


def _bank_permit(canvas: _Canvas, rng: random.Random) -> tuple[dict, list[str]]:
    co = _company(rng)
    approval = "J" + co["division"][:4] + "".join(rng.choice("0123456789") for _ in range(9))
    serial = f"{co['division'][:4]}-{rng.randint(0, 99999999):08d}"
    account = "".join(rng.choice("0123456789") for _ in range(19))
    fields = {
        "approval_number": approval,
        "serial_number": serial,
        "depositor_name": co["name"],
        "legal_representative": _person_name(rng),
        "bank": rng.choice(_BANKS).format(city=co["city"]),
        "account_number": account,
        "issue_date": _random_date(rng, 2010, 2019).isoformat(),
    }
    canvas.rect((120, 150, canvas.width - 120, 1900), width=10, outline=(40, 90, 140))
    canvas.text(canvas.width / 2, 330, "开户许可证", 130, style="bold", anchor="mm")
    canvas.text(260, 500, f"核准号：{approval}", 48)
    canvas.text(1500, 500, f"编号：{serial}", 48)
    intro = "经审核，" + co["name"] + "符合开户条件，准予开立基本存款账户。"
    y, lines = 640.0, ["开户许可证", f"核准号：{approval}", f"编号：{serial}"]
    for part in canvas.wrap(intro, 50, canvas.width - 560):
        canvas.text(260, y, part, 50)
        lines.append(part)
        y += 80
    rows = [("存款人名称", co["name"]), ("法定代表人", fields["legal_representative"]),
            ("开户银行", fields["bank"]), ("账        号", account)]
    _, row_lines = _field_rows(canvas, x=260, y=y + 60, rows=rows, label_w=380, value_w=1500,
                               size=50, gap=45)
    lines += row_lines
    issued = _cn_date(date.fromisoformat(fields["issue_date"]))
    canvas.text(1500, 1650, "发证机关（盖章）", 48)
    canvas.text(1500, 1760, issued, 48)
    lines += ["发证机关（盖章）", issued]
    _draw_seal(canvas, center=(1850, 1620), text=f"中国人民银行{co['city']}分行", rng=rng,
               radius=170)
    canvas.seal_spots.append((1000, y + 100))
    return fields, lines


def _customer_form(canvas: _Canvas, rng: random.Random) -> tuple[dict, list[str]]:
    co = _company(rng)
    contact = _person_name(rng)
    phone = f"1{rng.choice('3456789')}{rng.randint(0, 999999999):09d}"
    fields = {
        "name": co["name"],
        "customer_type": "企业客户",
        "uscc": co["uscc"],
        "legal_representative": _person_name(rng),
        "contact": contact,
        "phone": phone,
        "email": f"contact{rng.randint(1, 999)}@example.com",
        "address": co["address"],
        "industry": rng.choice(_INDUSTRIES),
        "source": rng.choice(_SOURCES),
        "filled_date": _random_date(rng, 2022, 2024).isoformat(),
    }
    canvas.text(canvas.width / 2, 260, "客户资料登记表", 100, style="bold", anchor="mm")
    rows = [("客户名称", co["name"]), ("客户类型", "企业客户"), ("统一社会信用代码", co["uscc"]),
            ("法定代表人", fields["legal_representative"]), ("联系人", contact),
            ("联系方式", phone), ("电子邮箱", fields["email"]), ("地址", co["address"]),
            ("所属行业", fields["industry"]), ("客户来源", fields["source"]), ("备注", "")]
    x0, x1, x2, top, row_h = 180, 820, canvas.width - 180, 420, 150
    lines = ["客户资料登记表"]
    for i, (label, value) in enumerate(rows):
        y = top + i * row_h
        canvas.rect((x0, y, x2, y + row_h), width=4)
        canvas.line((x1, y, x1, y + row_h), width=4)
        canvas.text(x0 + 40, y + row_h / 2, label, 46, style="bold", anchor="lm")
        canvas.value(x1 + 40, y + row_h / 2, value, 46, anchor="lm")
        lines.append(f"{label} {value}".strip())
    y = top + len(rows) * row_h + 120
    filled = _cn_date(date.fromisoformat(fields["filled_date"]))
    canvas.labelled(x0, y, "填表人：", contact, 46)
    canvas.labelled(1300, y, "填表日期：", filled, 46)
    lines += [f"填表人：{contact}", f"填表日期：{filled}"]
    canvas.seal_spots.append((1300, top + 2 * row_h))
    return fields, lines


def _contract(canvas: _Canvas, rng: random.Random) -> tuple[dict, list[str]]:
    a, b = _company(rng), _company(rng)
    amount = rng.randint(20, 2000) * 1000
    signed = _random_date(rng, 2021, 2024)
    title = rng.choice(_CONTRACT_TITLES)
    number = f"HT-{signed.year}-{rng.randint(1, 9999):04d}"
    fields = {"title": title, "contract_number": number, "party_a": a["name"],
              "party_b": b["name"], "signed_date": signed.isoformat(), "amount": amount}
    canvas.text(canvas.width / 2, 250, title, 96, style="bold", anchor="mm")
    head = [f"合同编号：{number}", f"甲方：{a['name']}", f"乙方：{b['name']}",
            f"签订日期：{_cn_date(signed)}"]
    y, lines = 420.0, [title]
    for text in head:
        canvas.text(200, y, text, 48, style="serif")
        lines.append(text)
        y += 85
    y += 40
    money = f"合同金额：人民币{amount:,}元（大写：{_cn_amount(amount)}）。"
    paragraphs = [_CLAUSES[0], *rng.sample(_CLAUSES[1:-1], 3), money, _CLAUSES[-1]]
    for n, para in enumerate(paragraphs, start=1):
        for part in canvas.wrap(f"{n}. {para}" if n > 1 else "　　" + para, 46,
                                canvas.width - 400, "serif"):
            canvas.text(200, y, part, 46, style="serif")
            lines.append(part.strip("　"))
            y += 78
        y += 30
    y += 80
    canvas.text(200, y, "甲方（盖章）：", 48, style="serif")
    canvas.text(1300, y, "乙方（盖章）：", 48, style="serif")
    lines += ["甲方（盖章）：", "乙方（盖章）："]
    _draw_seal(canvas, center=(700, y + 60), text=a["name"], rng=rng, radius=170)
    canvas.seal_spots.append((900, 700))
    return fields, lines


def _blank(canvas: _Canvas, rng: random.Random) -> tuple[dict, list[str]]:
    return {}, []


def _renderer(kind: str):  # noqa: ANN202 - a renderer: (canvas, rng) -> (fields, lines)
    if kind in _RENDERERS:
        return _RENDERERS[kind]
    from bench.layouts import RENDERERS  # noqa: PLC0415 - bench.layouts draws with this module

    return RENDERERS[kind]


_RENDERERS = {
    "business_license": _business_license,
    "id_card": _id_card,
    "id_card_back": _id_card_back,
    "bank_permit": _bank_permit,
    "customer_form": _customer_form,
    "contract": _contract,
    "blank": _blank,
}


# ---------------------------------------------------------------------------------------------
# Degradations
# ---------------------------------------------------------------------------------------------

_ORDER = ("handwritten", "watermark", "seal_over_text", "show_through", "skew", "blur", "noise",
          "lowres", "phone_photo", "rotate90", "rotate180", "rotate270", "jpeg", "fax")


def _degrade(canvas: _Canvas, *, rng: random.Random, names: tuple[str, ...],
             truth: dict) -> Image.Image:
    image = canvas.image
    if truth["kind"] == "id_card":
        image = _photocopy_tone(image)
    image = _paper(image, rng)
    for name in _ORDER:
        if name in names:
            image = _APPLY[name](image, rng=rng, canvas=canvas, truth=truth)
    image.info["dpi"] = (truth["dpi"], truth["dpi"])
    return image


def _photocopy_tone(image: Image.Image) -> Image.Image:
    gray = image.convert("L").filter(ImageFilter.GaussianBlur(0.6))
    return gray.point(lambda v: int(35 + v * 0.82)).convert("RGB")


def _paper(image: Image.Image, rng: random.Random) -> Image.Image:
    """A slightly off-white sheet: scanners never give pure 255 paper."""
    tint = (rng.randint(242, 250),) * 3
    return ImageChops.multiply(image, Image.new("RGB", image.size, tint))


def _noise_layer(size: tuple[int, int], rng: random.Random, amplitude: int) -> Image.Image:
    raw = Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
    raw = raw.filter(ImageFilter.BoxBlur(0.5))
    return raw.point(lambda v: max(0, min(255, 128 + (v - 128) * amplitude // 64)))


def _d_noise(image: Image.Image, *, rng: random.Random, **_: object) -> Image.Image:
    noise = _noise_layer(image.size, rng, amplitude=12).convert(image.mode)
    noisy = ImageChops.add(image, noise, scale=1.0, offset=-128)
    draw = ImageDraw.Draw(noisy)
    dark = (60,) * len(noisy.getbands())
    for _ in range(image.width * image.height // 20000):
        x, y = rng.randrange(image.width), rng.randrange(image.height)
        r = rng.randint(1, 3)
        draw.ellipse((x, y, x + r, y + r), fill=dark if len(dark) > 1 else dark[0])
    return noisy


def _d_blur(image: Image.Image, *, truth: dict, **_: object) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(1.6 * truth["dpi"] / 300))


def _d_skew(image: Image.Image, *, rng: random.Random, truth: dict, **_: object) -> Image.Image:
    angle = rng.choice((-1, 1)) * rng.uniform(1.5, 6.0)
    truth["skew_degrees"] = round(angle, 2)
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=image.getpixel((2, 2)))


def _rotate(angle: int):
    def apply(image: Image.Image, *, truth: dict, **_: object) -> Image.Image:
        truth["rotation"] = (truth["rotation"] + angle) % 360
        return image.rotate(angle, expand=True)

    return apply


def _d_lowres(image: Image.Image, *, truth: dict, **_: object) -> Image.Image:
    factor = 150 / truth["dpi"]
    truth["dpi"] = 150
    size = (round(image.width * factor), round(image.height * factor))
    return image.resize(size, Image.Resampling.LANCZOS)


def _d_jpeg(image: Image.Image, **_: object) -> Image.Image:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=18)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _d_fax(image: Image.Image, **_: object) -> Image.Image:
    return image.convert("L").point(lambda v: 255 if v > 150 else 0).convert("1", dither=None)


def _d_seal_over_text(image: Image.Image, *, rng: random.Random, canvas: _Canvas,
                      truth: dict, **_: object) -> Image.Image:
    spot = canvas.seal_spots[0] if canvas.seal_spots else (canvas.width / 2, canvas.height / 3)
    canvas.image = image
    name = truth["fields"].get("name") or "客户资料专用章"
    _draw_seal(canvas, center=spot, text=str(name), rng=rng, radius=170)
    return canvas.image


def _d_watermark(image: Image.Image, *, rng: random.Random, canvas: _Canvas, truth: dict,
                 **_: object) -> Image.Image:
    text = rng.choice(("仅供办理开户使用", "仅供客户资料备案使用", "仅供本次业务使用"))
    truth["watermark"] = text
    font = canvas.font(90, "bold")
    tile = Image.new("L", (round(font.getlength(text)) + 40, font.size * 2), 0)
    ImageDraw.Draw(tile).text((20, font.size // 2), text, font=font, fill=255)
    tile = tile.rotate(30, expand=True, resample=Image.Resampling.BICUBIC)
    mask = Image.new("L", image.size, 0)
    step_x, step_y = tile.width + canvas.px(150), tile.height + canvas.px(100)
    for y in range(-tile.height // 2, image.height, step_y):
        for x in range(-tile.width // 3, image.width, step_x):
            mask.paste(tile, (x, y), tile)
    mask = mask.point(lambda v: v * 90 // 255)
    return Image.composite(Image.new("RGB", image.size, (150, 150, 150)), image, mask)


def _d_show_through(image: Image.Image, *, rng: random.Random, truth: dict,
                    **_: object) -> Image.Image:
    """Faint, blurred, mirrored text of the other side of the sheet."""
    other = generate(rng.choice(("contract", "customer_form")), seed=rng.randint(0, 10**6),
                     dpi=truth["dpi"]).image.convert("L")
    other = other.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    other = other.filter(ImageFilter.GaussianBlur(2.5 * truth["dpi"] / 300))
    faint = other.point(lambda v: 255 - (255 - v) * 18 // 100).convert("RGB")
    return ImageChops.multiply(image, faint.resize(image.size))


def _d_handwritten(image: Image.Image, **_: object) -> Image.Image:
    """Render-time option: the values were already written by hand (``_Canvas.value``)."""
    return image


#: Colours of the table under a photographed page (all darker than paper).
_TABLE_COLOURS = ((96, 74, 56), (70, 71, 76), (58, 44, 36), (118, 104, 88))


def _d_phone_photo(image: Image.Image, *, rng: random.Random, truth: dict,
                   **_: object) -> Image.Image:
    """The page photographed with a phone, same pixel size (and dpi) as the scan.

    Keystone: each corner moves inward by 1-5 % of the width and of the height, at random; the
    table around the page is a darker colour; the light falls off across the photo (a linear
    gradient, sometimes with a soft shadow: the image is multiplied by 0.7-1.0); a slight blur
    and JPEG at quality 70. ``truth["phone_photo"]`` records all of it, corners in pixels
    (top left, top right, bottom right, bottom left).
    """
    page = image.convert("RGB")
    w, h = page.size
    insets = [(rng.uniform(0.01, 0.05), rng.uniform(0.01, 0.05)) for _ in range(4)]
    signs = ((1, 1), (-1, 1), (-1, -1), (1, -1))
    src = [(0.0, 0.0), (float(w), 0.0), (float(w), float(h)), (0.0, float(h))]
    dst = [(sx + ix * w * gx, sy + iy * h * gy)
           for (sx, sy), (ix, iy), (gx, gy) in zip(src, insets, signs, strict=True)]
    coeffs = _perspective_coeffs(dst, src)
    warped = page.transform(page.size, Image.Transform.PERSPECTIVE, coeffs,
                            Image.Resampling.BICUBIC)
    mask = Image.new("L", page.size, 255).transform(page.size, Image.Transform.PERSPECTIVE,
                                                     coeffs, Image.Resampling.BILINEAR)
    table_colour = rng.choice(_TABLE_COLOURS)
    photo = Image.composite(warped, Image.new("RGB", page.size, table_colour), mask)
    light, lighting = _lighting(page.size, rng)
    photo = ImageChops.multiply(photo, Image.merge("RGB", (light, light, light)))
    blur = round(0.8 * truth["dpi"] / 300, 2)
    photo = photo.filter(ImageFilter.GaussianBlur(blur))
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=70)
    buf.seek(0)
    truth["phone_photo"] = {
        "corners": [[round(x), round(y)] for x, y in dst],
        "inset_fractions": [[round(ix, 4), round(iy, 4)] for ix, iy in insets],
        "table_colour": list(table_colour),
        "lighting": lighting,
        "blur_radius": blur,
        "jpeg_quality": 70,
    }
    return Image.open(buf).convert("RGB")


def _perspective_coeffs(dst: Sequence[tuple[float, float]],
                        src: Sequence[tuple[float, float]]) -> tuple[float, ...]:
    """Pillow ``PERSPECTIVE`` data mapping output points ``dst`` to input points ``src``.

    Solves ``u = (a x + b y + c) / (g x + h y + 1)``, ``v = (d x + e y + f) / (g x + h y + 1)``
    for the four point pairs (Gauss-Jordan with partial pivoting on the 8 x 9 system).
    """
    rows = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u])
        rows.append([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v])
    n = len(rows)
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        lead = rows[col][col]
        rows[col] = [value / lead for value in rows[col]]
        for r in range(n):
            if r != col and rows[r][col]:
                factor = rows[r][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    return tuple(row[n] for row in rows)


def _lighting(size: tuple[int, int], rng: random.Random) -> tuple[Image.Image, dict]:
    """A smooth brightness map (L, 255 = full light, never below 0.7): a linear fall-off in a
    random direction, and in half of the photos a soft round shadow; with its description."""
    w, h = size
    angle = rng.uniform(0, 360)
    darkest = rng.uniform(0.7, 0.88)
    dx, dy = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    shadow = None
    if rng.random() < 0.5:
        shadow = {"centre": [round(rng.uniform(0, 1), 3), round(rng.uniform(0, 1), 3)],
                  "radius": round(rng.uniform(0.25, 0.45), 3),
                  "depth": round(rng.uniform(0.08, 0.18), 3)}
    sw = 64
    sh = max(2, round(sw * h / w))
    small = Image.new("L", (sw, sh))
    spread = (abs(dx) + abs(dy * h / w)) / 2  # half the projected extent, in widths
    values = []
    for j in range(sh):
        for i in range(sw):
            u, v = i / (sw - 1) - 0.5, (j / (sh - 1) - 0.5) * h / w
            t = (u * dx + v * dy + spread) / (2 * spread)  # 0 .. 1 along the direction
            level = 1.0 - (1.0 - darkest) * t
            if shadow:
                cx, cy = shadow["centre"][0] - 0.5, (shadow["centre"][1] - 0.5) * h / w
                d = math.hypot(u - cx, v - cy) / shadow["radius"]
                level *= 1.0 - shadow["depth"] * max(0.0, 1.0 - d * d) ** 2
            values.append(round(255 * max(0.7, level)))
    small.putdata(values)
    light = small.resize(size, Image.Resampling.BILINEAR)
    return light, {"direction_degrees": round(angle, 1), "darkest": round(darkest, 3),
                   "shadow": shadow}


_APPLY = {
    "handwritten": _d_handwritten,
    "phone_photo": _d_phone_photo,
    "noise": _d_noise,
    "blur": _d_blur,
    "skew": _d_skew,
    "rotate90": _rotate(90),
    "rotate180": _rotate(180),
    "rotate270": _rotate(270),
    "lowres": _d_lowres,
    "jpeg": _d_jpeg,
    "fax": _d_fax,
    "seal_over_text": _d_seal_over_text,
    "watermark": _d_watermark,
    "show_through": _d_show_through,
}


# ---------------------------------------------------------------------------------------------
# Writing files
# ---------------------------------------------------------------------------------------------


def _as_tuple(degradation: str | Sequence[str] | None) -> tuple[str, ...]:
    if degradation is None:
        return ()
    if isinstance(degradation, str):
        return (degradation,)
    return tuple(degradation)


def _normalize_fmt(fmt: str) -> str:
    fmt = fmt.lower()
    fmt = {"jpg": "jpeg", "tif": "tiff"}.get(fmt, fmt)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {FORMATS}")
    return fmt


def _dpi(image: Image.Image) -> tuple[int, int]:
    dpi = image.info.get("dpi", (300, 300))
    return (round(dpi[0]), round(dpi[1]))


def _encode_for_pdf(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    if image.mode == "1":
        image.save(buf, "PNG", dpi=_dpi(image))
    else:
        image.convert("RGB" if image.mode not in ("L", "RGB") else image.mode).save(
            buf, "JPEG", quality=85, dpi=_dpi(image))
    return buf.getvalue()


def _save_tiff(images: list[Image.Image], path: Path) -> None:
    compression = "group4" if all(im.mode == "1" for im in images) else "jpeg"
    first, rest = images[0], images[1:]
    if compression == "jpeg":
        first, rest = first.convert("RGB"), [im.convert("RGB") for im in rest]
    extra = {"quality": 85} if compression == "jpeg" else {}
    first.save(path, "TIFF", save_all=True, append_images=rest, compression=compression,
               dpi=_dpi(first), **extra)


def _save_single(image: Image.Image, path: Path, fmt: str) -> None:
    if fmt in ("jpeg", "webp") and image.mode == "1":
        image = image.convert("L")
    options: dict = {"dpi": _dpi(image)}
    if fmt == "jpeg":
        options["quality"] = 85
    elif fmt == "webp":
        options = {"quality": 85}  # WebP has no dpi field
    image.save(path, fmt.upper(), **options)


# ---------------------------------------------------------------------------------------------
# Demo set
# ---------------------------------------------------------------------------------------------

DEMO_SET = (
    ("营业执照-星辰.jpg", [("business_license", 1, None)]),
    ("身份证复印件.png", [("id_card", 2, None)]),
    ("客户资料登记表.tiff", [("customer_form", 3, ("noise",))]),
    ("开户许可证-旋转.jpg", [("bank_permit", 4, ("rotate90",))]),
    ("合同-多页.pdf", [("contract", 5, None), ("business_license", 6, ("skew",)),
                    ("blank", 7, ("show_through",))]),
)


def write_demo_set(out_dir: Path) -> list[Path]:
    """Write the demo scans and a ``truth.json`` describing them; returns the scan paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written, manifest = [], {}
    for filename, pages in DEMO_SET:
        samples = [generate(kind, seed=seed, degradation=deg) for kind, seed, deg in pages]
        path = write_sample(samples if len(samples) > 1 else samples[0], out_dir / filename)
        manifest[filename] = [s.truth for s in samples]
        written.append(path)
    (out_dir / "truth.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m bench.samples OUT_DIR``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m bench.samples OUT_DIR\n")
        return 2
    for path in write_demo_set(Path(args[0])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
