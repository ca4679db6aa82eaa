"""Photos from phones: iPhone HEIC/HEIF recognised by its first bytes and converted to JPEG (no Flask).

A user's file is decoded where it cannot take the service down: in the import sandbox's child process
(importers/sandbox.py: capped address space and CPU time, a wall-clock deadline), with Pillow's pixel cap
set before the image is decoded. Whatever the file does, the caller gets JPEG bytes or a Chinese Invalid.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from app.errors import Invalid
from importers.errors import ImportFileError
from importers.sandbox import SandboxLimits, isolated

MB = 1024 * 1024

# Major brands of an HEIF file holding HEVC-coded images (what iPhones write), and the structural brands
# (mif1, msf1) that also need an HEVC brand among the compatible ones: an AVIF file is mif1 + avif.
HEVC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
STRUCTURAL_BRANDS = {b"mif1", b"msf1"}

# A photo's message starts with this, so messages of the sandbox itself (which speak of spreadsheets) are told apart.
PHOTO = "照片"
UNREADABLE = "照片“{name}”无法读取：文件已损坏、不完整或不是 HEIC/HEIF 照片，未保存任何内容。"


@dataclass(frozen=True)
class ImageLimits:
    """How large a photo may be once decoded, and the child process that decodes it."""

    max_pixels: int = 60_000_000  # an iPhone's 48-megapixel photo is 8064 x 6048 = 48.8 million
    sandbox: SandboxLimits = field(default_factory=lambda: SandboxLimits(memory_bytes=1024 * MB, seconds=30.0))


def limits_from(config: Mapping) -> ImageLimits:
    """The photo limits from the app's configuration (config.py; the sandbox switch is the import sandbox's)."""
    return ImageLimits(max_pixels=int(config["EVIDENCE_MAX_PIXELS"]),
                       sandbox=SandboxLimits(memory_bytes=int(config["EVIDENCE_DECODE_MEMORY_MB"]) * MB,
                                             seconds=float(config["EVIDENCE_DECODE_SECONDS"]),
                                             enabled=bool(config["IMPORT_SANDBOX"])))


def is_heif(data: bytes) -> bool:
    """Whether the bytes start an HEIF file of HEVC images (HEIC), by its ftyp box's brands."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return False
    major = data[8:12]
    if major in HEVC_BRANDS:
        return True
    if major not in STRUCTURAL_BRANDS:
        return False
    box_size = min(int.from_bytes(data[0:4], "big"), len(data), 256)
    compatible = {data[i:i + 4] for i in range(16, box_size - 3, 4)}
    return bool(compatible & HEVC_BRANDS)


def heif_to_jpeg(data: bytes, name: str, limits: ImageLimits = ImageLimits()) -> bytes:
    """The HEIC photo as a JPEG (its EXIF, with the time it was taken, kept); Invalid in Chinese when it cannot be."""
    try:
        return isolated(decode_heif, data, name, limits.max_pixels, limits=limits.sandbox)
    except ImportFileError as err:
        if err.message.startswith(PHOTO):
            raise Invalid(err.message, field="file") from None
        # The child died (memory) or ran out of time: its message speaks of spreadsheets.
        raise Invalid(UNREADABLE.format(name=name), field="file") from None


def decode_heif(data: bytes, name: str, max_pixels: int, progress: Callable | None = None) -> bytes:
    """The sandbox job: decode the HEIC and encode it as JPEG; ImportFileError (Chinese) when refused."""
    from PIL import Image
    import pillow_heif

    pillow_heif.register_heif_opener()
    # Pillow refuses (DecompressionBombError) past twice the cap and warns past it; the check below refuses past it.
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with Image.open(io.BytesIO(data), formats=["HEIF"]) as image:
            if image.width * image.height > max_pixels:
                raise Image.DecompressionBombError(f"{image.width}x{image.height}")
            exif = image.info.get("exif")
            rgb = image.convert("RGB")
        out = io.BytesIO()
        rgb.save(out, "JPEG", quality=88, exif=exif or b"")
        return out.getvalue()
    except Image.DecompressionBombError:
        raise ImportFileError(f"照片“{name}”的像素过多（超过 {max_pixels / 1_000_000:g} 百万像素），未保存。"
                              "请用手机的“兼容性最佳”格式或缩小后再上传。") from None
    except (OSError, ValueError, SyntaxError, RuntimeError, EOFError):
        raise ImportFileError(UNREADABLE.format(name=name)) from None


BROKEN = "图片“{name}”无法读取：文件已损坏、不完整或不是 JPEG/PNG 图片，未保存任何内容。"


def verify_image(data: bytes, name: str, limits: ImageLimits = ImageLimits()) -> None:
    """Refuse (Invalid in Chinese) a JPEG or PNG that does not decode as one, or has too many pixels; the
    decoding happens in the sandbox's child process like a HEIC photo's."""
    try:
        isolated(check_image, data, name, limits.max_pixels, limits=limits.sandbox)
    except ImportFileError as err:
        if err.message.startswith("图片"):
            raise Invalid(err.message, field="file") from None
        raise Invalid(BROKEN.format(name=name), field="file") from None


def check_image(data: bytes, name: str, max_pixels: int, progress: Callable | None = None) -> bool:
    """The sandbox job: open the JPEG/PNG, check its size, and decode it whole; ImportFileError when refused."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG"]) as image:
            if image.width * image.height > max_pixels:
                raise Image.DecompressionBombError(f"{image.width}x{image.height}")
            image.load()  # decodes every pixel: a truncated or corrupt file fails here, not on a reader's screen
        return True
    except Image.DecompressionBombError:
        raise ImportFileError(f"图片“{name}”的像素过多（超过 {max_pixels / 1_000_000:g} 百万像素），未保存。") from None
    except (OSError, ValueError, SyntaxError, RuntimeError, EOFError):
        raise ImportFileError(BROKEN.format(name=name)) from None
