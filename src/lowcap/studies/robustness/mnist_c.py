"""The 15 corruptions of MNIST-C (Mu & Gilmer 2019), as its published code makes them
(google-research/mnist-c, `corruptions.py`), each at the severity that code uses by default —
the one the published dataset was built with.

Images are [N, 28, 28] arrays in [0, 1]; each corruption draws from the generator it is given,
so one seed gives the same corrupted set for every model. The published code needs ImageMagick
(motion blur) and OpenCV; here NumPy, SciPy and scikit-image do the same arithmetic. Quirks of
the published code are kept on purpose, because they are in the dataset:
- its `gaussian(..., multichannel=True)` on a 2-D image treats columns as channels, so glass
  blur blurs along each column only;
- shear, rotate and scale use the affine matrices of the scikit-image of 2019
  (shear: [[1, −sin s], [0, cos s]]), written out here because newer versions changed them;
- motion blur is ImageMagick's one-sided Gaussian kernel along a random angle in ±45°, and the
  result is rounded to 8 bits as the code's PNG round trip does;
- fog scales by the image's maximum, so a black image stays black.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from scipy import ndimage
from skimage import feature, transform, util

SIDE = 28
CENTRE = 13.5
Images = np.ndarray
MnistC = Callable[[Images, int, np.random.Generator], Images]

# Each corruption's parameter per severity 1–5, from the published code.
TABLES: dict[str, tuple] = {
    "shot_noise": (60, 25, 12, 5, 3),
    "impulse_noise": (0.03, 0.06, 0.09, 0.17, 0.27),
    "glass_blur": ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)),
    "motion_blur": ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)),
    "shear": (0.2, 0.4, 0.6, 0.8, 1.0),
    "scale": (1 / 0.9, 1 / 0.8, 1 / 0.7, 1 / 0.6, 1 / 0.5),
    "rotate": (0.2, 0.4, 0.6, 0.8, 1.0),
    "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),
    "translate": (1, 2, 3, 4, 5),
    "fog": ((1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)),
    "spatter": ((0.65, 0.3, 4, 0.69, 0.6), (0.65, 0.3, 3, 0.68, 0.6),
                (0.65, 0.3, 2, 0.68, 0.5), (0.65, 0.3, 1, 0.65, 1.5),
                (0.67, 0.4, 1, 0.65, 1.5)),
}
# The published code's default severity of each corruption (None: it has no severity).
DEFAULT_SEVERITY: dict[str, int | None] = {
    "shot_noise": 5, "impulse_noise": 4, "glass_blur": 1, "motion_blur": 1, "shear": 2,
    "scale": 3, "rotate": 2, "brightness": 5, "translate": 3, "stripe": None, "fog": 5,
    "spatter": 4, "dotted_line": None, "zigzag": None, "canny_edges": None,
}


def parameter(name: str, severity: int | None):
    """The published parameter of `name` at `severity` (None for the severity-free ones)."""
    return None if severity is None else TABLES[name][severity - 1]


def shot_noise(x: Images, severity: int, rng: np.random.Generator) -> Images:
    """Poisson photon noise: Poisson(x·c) / c."""
    c = parameter("shot_noise", severity)
    return np.clip(rng.poisson(x * c) / c, 0, 1)


def impulse_noise(x: Images, severity: int, rng: np.random.Generator) -> Images:
    """Salt and pepper on a share c of the pixels (scikit-image's `random_noise`)."""
    return util.random_noise(x, mode="s&p", amount=parameter("impulse_noise", severity),
                             rng=rng)


def _column_blur(x: Images, sigma: float) -> Images:
    """The published `gaussian(image, sigma, multichannel=True)`: along each column only."""
    return ndimage.gaussian_filter1d(x, sigma, axis=1, mode="nearest", truncate=4.0)


def glass_blur(x: Images, severity: int, rng: np.random.Generator) -> Images:
    """Blur, shuffle pixels locally (each with probability ½, with a random neighbour up to
    `delta` away, bottom-right to top-left, `iterations` times), blur again."""
    sigma, delta, iterations = parameter("glass_blur", severity)
    out = np.floor(_column_blur(x, sigma) * 255) / 255  # the code's uint8 conversion
    n = np.arange(len(out))
    for _ in range(iterations):
        for h in range(SIDE - delta, delta, -1):
            for w in range(SIDE - delta, delta, -1):
                swap = n[rng.random(len(out)) < 0.5]
                dx, dy = rng.integers(-delta, delta, size=(2, len(swap)))
                here, there = out[swap, h, w], out[swap, h + dy, w + dx]
                out[swap, h, w], out[swap, h + dy, w + dx] = there, here
    return np.clip(_column_blur(out, sigma), 0, 1)


def motion_kernel(radius: float, sigma: float, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """ImageMagick's motion blur: weights of a one-sided Gaussian over 2·radius + 1 taps and
    their pixel offsets (column, row) along `angle` degrees, rounded as ImageMagick does."""
    taps = np.arange(2 * int(radius) + 1)
    weights = np.exp(-(taps ** 2) / (2 * sigma ** 2))
    rad = np.deg2rad(angle)
    offsets = np.ceil(np.stack([taps * np.cos(rad), taps * np.sin(rad)], 1) - 0.5)
    return weights / weights.sum(), offsets.astype(int)


def motion_blur(x: Images, severity: int, rng: np.random.Generator) -> Images:
    """Each image smeared along a random angle in [−45°, 45°] (edge pixels repeat)."""
    radius, sigma = parameter("motion_blur", severity)
    out = np.empty_like(x)
    grid = np.arange(SIDE)
    for i, angle in enumerate(rng.uniform(-45, 45, size=len(x))):
        weights, offsets = motion_kernel(radius, sigma, angle)
        rows = np.clip(grid + offsets[:, 1, None], 0, SIDE - 1)  # [taps, 28]
        cols = np.clip(grid + offsets[:, 0, None], 0, SIDE - 1)
        taps = x[i][rows[:, :, None], cols[:, None, :]]  # [taps, 28, 28]
        out[i] = np.round(np.clip(np.tensordot(weights, taps, 1), 0, 1) * 255) / 255
    return out


def centred_affine(matrix: np.ndarray) -> np.ndarray:
    """A 2×2 linear map (on (column, row)) as a 3×3 affine that keeps the centre fixed."""
    out = np.eye(3)
    out[:2, :2] = matrix
    out[:2, 2] = CENTRE * (1 - matrix.sum(axis=1))
    return out


def warp(x: Images, affines: list[np.ndarray]) -> Images:
    """Each image warped: output pixel p takes the input at affine(p) (bilinear, zeros
    outside), as scikit-image's `warp(image, inverse_map=affine)`."""
    return np.stack([transform.warp(img, transform.AffineTransform(matrix=m), order=1)
                     for img, m in zip(x, affines, strict=True)])


def shear(x: Images, severity: int, rng: np.random.Generator) -> Images:
    """Horizontal shear by ±s about the centre."""
    s = parameter("shear", severity) * rng.choice([-1, 1], size=len(x))
    return warp(x, [centred_affine(np.array([[1, -np.sin(v)], [0, np.cos(v)]])) for v in s])


def rotate(x: Images, severity: int, rng: np.random.Generator) -> Images:
    """Rotation by ±r radians about the centre."""
    r = parameter("rotate", severity) * rng.choice([-1, 1], size=len(x))
    return warp(x, [centred_affine(np.array([[np.cos(v), -np.sin(v)], [np.sin(v), np.cos(v)]]))
                    for v in r])


def scale(x: Images, severity: int, rng: np.random.Generator) -> Images:
    """Shrunk about the centre (the input is read at c× the distance from it)."""
    del rng
    c = parameter("scale", severity)
    return warp(x, [centred_affine(np.diag([c, c]))] * len(x))


def translate(x: Images, severity: int, rng: np.random.Generator) -> Images:
    """Shifted by ±c pixels along both axes (signs drawn per image)."""
    c = parameter("translate", severity)
    affines = []
    for dx, dy in c * rng.choice([-1, 1], size=(len(x), 2)):
        m = np.eye(3)
        m[:2, 2] = dx, dy
        affines.append(m)
    return warp(x, affines)


def brightness(x: Images, severity: int, rng: np.random.Generator) -> Images:
    """+c on every pixel (the published HSV round trip is exactly this on grey images)."""
    del rng
    return np.clip(x + parameter("brightness", severity), 0, 1)


def stripe(x: Images, severity: None, rng: np.random.Generator) -> Images:
    """Columns 0–6 and 21–27 inverted."""
    del severity, rng
    out = x.copy()
    out[:, :, :7] = 1 - out[:, :, :7]
    out[:, :, 21:] = 1 - out[:, :, 21:]
    return out


def plasma_fractal(rng: np.random.Generator, decay: float, count: int,
                   size: int = 256) -> np.ndarray:
    """`count` diamond-square height maps [count, size, size] of the published code, each
    scaled to [0, 1]."""
    grid = np.zeros((count, size, size), dtype=np.float32)  # float32: half the memory traffic
    step, wibble = size, 100.0

    def wibbled(a: np.ndarray) -> np.ndarray:
        return a / 4 + wibble * wibble * (2 * rng.random(a.shape, dtype=np.float32) - 1)

    while step >= 2:
        half = step // 2
        corners = grid[:, 0:size:step, 0:size:step]
        squares = corners + np.roll(corners, -1, axis=1)
        squares += np.roll(squares, -1, axis=2)
        grid[:, half:size:step, half:size:step] = wibbled(squares)
        centres = grid[:, half:size:step, half:size:step]
        sides = (centres + np.roll(centres, 1, axis=1)) + (corners + np.roll(corners, -1, axis=2))
        grid[:, 0:size:step, half:size:step] = wibbled(sides)
        sides = (centres + np.roll(centres, 1, axis=2)) + (corners + np.roll(corners, -1, axis=1))
        grid[:, half:size:step, 0:size:step] = wibbled(sides)
        step //= 2
        wibble /= decay
    grid -= grid.min(axis=(1, 2), keepdims=True)
    return grid / grid.max(axis=(1, 2), keepdims=True)


def fog(x: Images, severity: int, rng: np.random.Generator, chunk: int = 8) -> Images:
    """A plasma-fractal haze of strength c, then rescaled by the image's maximum."""
    strength, decay = parameter("fog", severity)
    haze = np.concatenate([plasma_fractal(rng, decay, len(x[i:i + chunk]))[:, :SIDE, :SIDE]
                           for i in range(0, len(x), chunk)])
    peak = x.max(axis=(1, 2), keepdims=True)
    return np.clip((x + strength * haze) * peak / (peak + strength), 0, 1)


def spatter(x: Images, severity: int, rng: np.random.Generator) -> Images:
    """Mud drops: thresholded blurred noise, blurred again, the strong part painted 63/255."""
    loc, spread, sigma, threshold, mud_sigma = parameter("spatter", severity)
    liquid = ndimage.gaussian_filter(rng.normal(loc, spread, size=x.shape), (0, sigma, sigma),
                                     mode="nearest", truncate=4.0)
    liquid[liquid < threshold] = 0
    mask = ndimage.gaussian_filter((liquid > threshold).astype(float), (0, mud_sigma, mud_sigma),
                                   mode="nearest", truncate=4.0)
    mask[mask < 0.8] = 0
    return np.clip(x * (1 - mask) + 63 / 255 * mask, 0, 1)


def line_from_points(c0: float, r0: float, c1: float, r1: float) -> np.ndarray:
    """The published anti-aliased line (intensity log(1 − d/2.3) + 1 at distance d from it),
    cut to columns floor(c0)..ceil(c1) with the code's slicing (a negative bound wraps)."""
    if c1 == c0:
        return np.zeros((SIDE, SIDE))
    cc, rr = np.meshgrid(np.linspace(0, 27, SIDE), np.linspace(0, 27, SIDE), sparse=True)
    slope = (r1 - r0) / (c1 - c0)
    dist = np.clip(np.abs(rr - (slope * (cc - c0) + r0)), 0, 2.3 - 1e-10)
    line = np.clip(np.log(1 - dist / 2.3) + 1, 0, 1)
    line[:, :int(np.floor(c0))] = 0
    line[:, int(np.ceil(c1)):] = 0
    return line


def dotted_line(x: Images, severity: None, rng: np.random.Generator) -> Images:
    """A line across the image between random rows, every other pair of columns blank."""
    del severity
    out = np.empty_like(x)
    for i, image in enumerate(x):
        r0, r1 = rng.integers(0, 27, size=2)
        line = line_from_points(0, r0, 27, r1)
        for start in range(0, 28, 4):
            line[:, start:start + 2] = 0
        out[i] = np.clip(image + line, 0, 1)
    return out


def zigzag_points(r0: int, r1: int, a: float = 2.0, b: float = 2.0) -> np.ndarray:
    """The published zigzag's corner points [(column, row)], from column 2 to 25."""
    c0, c1 = 2, 25
    theta = np.arctan((r1 - r0) / (c1 - c0))
    length = (c1 - c0) / np.cos(theta)
    points = [(0.0, 0.0)]
    for i in range(int((length - a) // (2 * a)) + 1):
        points.append(((2 * i + 1) * a, (-1) ** i * b))
    last = (2 * a) * (length // (2 * a))
    if length != last:
        points.append((length, points[-1][1] / (2 * (length - last))))
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return (rotation @ np.array(points).T).T + np.array([c0, r0])


def zigzag(x: Images, severity: None, rng: np.random.Generator) -> Images:
    """A zigzag line across the image at a random row, tilted by up to ±5 rows."""
    del severity
    out = np.empty_like(x)
    for i, image in enumerate(x):
        r0 = int(rng.integers(0, 27))
        corners = zigzag_points(r0, r0 + int(rng.integers(-5, 5)))
        drawn = image.copy()
        for (ca, ra), (cb, rb) in itertools.pairwise(corners):
            drawn = np.clip(drawn + line_from_points(ca, ra, cb, rb), 0, 1)
        out[i] = drawn
    return out


def canny_edges(x: Images, severity: None, rng: np.random.Generator) -> Images:
    """The image replaced by its Canny edges (scikit-image, σ = 1): 0 or 1."""
    del severity, rng
    return np.stack([feature.canny(image).astype(x.dtype) for image in x])


MNIST_C: dict[str, MnistC] = {
    "shot_noise": shot_noise, "impulse_noise": impulse_noise, "glass_blur": glass_blur,
    "motion_blur": motion_blur, "shear": shear, "scale": scale, "rotate": rotate,
    "brightness": brightness, "translate": translate, "stripe": stripe, "fog": fog,
    "spatter": spatter, "dotted_line": dotted_line, "zigzag": zigzag, "canny_edges": canny_edges,
}


def mnist_c(x: Images, name: str, seed: int) -> Images:
    """Images x [N, 28, 28] in [0, 1] under MNIST-C corruption `name` at its published
    default severity; the same seed gives the same images."""
    if name not in MNIST_C:
        raise ValueError(f"unknown MNIST-C corruption {name!r}; choose from {list(MNIST_C)}")
    rng = np.random.default_rng([seed, list(MNIST_C).index(name)])
    return MNIST_C[name](np.asarray(x, dtype=np.float64), DEFAULT_SEVERITY[name], rng)
