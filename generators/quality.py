"""Measured quality of a generator: classifier figures for digits, face detection for faces.

For MNIST and Fashion-MNIST a small CNN is trained on the real training images
and judged on held-out ones. On generated samples it gives the mean top-class
confidence, the class histogram (every class should appear; its entropy over
``log 10`` is the *normalised entropy*) and a Fréchet distance between the
classifier's 128-d penultimate features of generated and held-out real images
(an FID in a feature space suited to 28×28 images; comparable only with itself).
For faces, the share of generated images in which facenet-pytorch's MTCNN finds
a face with probability ≥ 0.9.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import linalg
from torch import nn

from bench.generator import Generator


class DigitClassifier(nn.Module):
    """Small CNN for 28×28 grey images: two conv+pool stages, a 128-d feature layer, 10 logits."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # [N, 32, 14, 14]
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # [N, 64, 7, 7]
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(),
        )
        self.head = nn.Linear(128, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """128-d features ``[N, 128]`` of images ``[N, 1, 28, 28]`` in [-1, 1]."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``[N, classes]``."""
        return self.head(self.body(x))


def _as_input(images: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, 28, 28, 1]`` → float ``[N, 1, 28, 28]`` in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def train_classifier(
    images: np.ndarray, labels: np.ndarray, epochs: int = 4, seed: int = 0, batch: int = 128
) -> DigitClassifier:
    """Train ``DigitClassifier`` with Adam (lr 1e-3) on real images.

    Args:
        images: ``[N, 28, 28, 1]`` uint8.
        labels: ``[N]`` class indices.
        epochs: Passes over the data.
        seed: Seed of initialisation and data order.
        batch: Images per step.

    Returns:
        The classifier in eval mode.

    """
    x, y = _as_input(images), torch.from_numpy(labels.astype(np.int64))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DigitClassifier(int(labels.max()) + 1)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(epochs):
            perm = torch.from_numpy(rng.permutation(len(x)))
            for i in range(0, len(x), batch):
                idx = perm[i : i + batch]
                opt.zero_grad(set_to_none=True)
                nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
                opt.step()
    return model.eval()


@torch.inference_mode()
def _apply(model: DigitClassifier, x: torch.Tensor, chunk: int = 2000) -> tuple[np.ndarray, ...]:
    feats, probs = [], []
    for i in range(0, len(x), chunk):
        f = model.features(x[i : i + chunk])
        feats.append(f.double().numpy())
        probs.append(torch.softmax(model.head(f), dim=1).double().numpy())
    return np.concatenate(feats), np.concatenate(probs)


def accuracy(model: DigitClassifier, images: np.ndarray, labels: np.ndarray) -> float:
    """Share of ``images`` ``[N, 28, 28, 1]`` uint8 classified as ``labels`` ``[N]``."""
    _, probs = _apply(model, _as_input(images))
    return float((probs.argmax(1) == labels).mean())


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to features ``a [N, F]`` and ``b [M, F]``.

    ``tr sqrt(Σa Σb)`` is computed as ``tr sqrt(Σa^½ Σb Σa^½)``, a symmetric
    positive semi-definite matrix, so dead (constant) features do not make it
    ill-posed.
    """
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = linalg.eigh(cov_a)
    sqrt_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    middle = linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
    tr_covmean = np.sqrt(np.clip(middle, 0.0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_covmean)


def frechet_floor(
    classifier: DigitClassifier, train: np.ndarray, heldout: np.ndarray, n: int = 10_000
) -> float:
    """Fréchet distance between (up to) ``n`` real training images and the held-out ones.

    Roughly what a perfect generator would score with as many samples (the
    estimate grows as samples shrink): the floor against which
    ``frechet_distance`` of generated images is read.
    """
    a, _ = _apply(classifier, _as_input(train[:n]))
    b, _ = _apply(classifier, _as_input(heldout))
    return frechet_distance(a, b)


def generated_samples(generator: Generator, n: int, seed: int) -> torch.Tensor:
    """``n`` images ``[n, C, H, W]`` in [-1, 1] from latents drawn with ``seed``."""
    z = np.random.default_rng(np.random.SeedSequence(seed)).normal(size=(n, generator.z_dim))
    return generator.generate(z).cpu()


def digit_quality(
    generator: Generator,
    classifier: DigitClassifier,
    heldout: np.ndarray,
    n: int = 10_000,
    seed: int = 0,
) -> dict:
    """Classifier figures of ``n`` generated images against held-out real ones.

    Args:
        generator: A 28×28 grey generator.
        classifier: Trained on real data.
        heldout: ``[M, 28, 28, 1]`` uint8 real images never trained on.
        n: Generated samples.
        seed: Seed of their latents.

    Returns:
        ``mean_confidence``, ``class_histogram`` (list of counts),
        ``normalised_entropy``, ``frechet_distance``, ``samples``, ``seed``.

    """
    fake_f, fake_p = _apply(classifier, generated_samples(generator, n, seed))
    real_f, _ = _apply(classifier, _as_input(heldout))
    classes = fake_p.shape[1]
    hist = np.bincount(fake_p.argmax(1), minlength=classes)
    share = hist / hist.sum()
    nz = share[share > 0]
    return {
        "samples": n,
        "seed": seed,
        "mean_confidence": float(fake_p.max(1).mean()),
        "class_histogram": hist.tolist(),
        "normalised_entropy": float(-(nz * np.log(nz)).sum() / np.log(classes)),
        "frechet_distance": frechet_distance(fake_f, real_f),
    }


def face_detection_rate(
    generator: Generator, n: int = 1000, seed: int = 0, threshold: float = 0.9
) -> dict:
    """Share of ``n`` generated images where MTCNN finds a face with probability ≥ ``threshold``.

    Images are upscaled to 160×160 first (MTCNN's smallest face is 20 px).
    """
    from facenet_pytorch import MTCNN

    imgs = generated_samples(generator, n, seed)
    imgs = nn.functional.interpolate(imgs, size=(160, 160), mode="bilinear", align_corners=False)
    arr = ((imgs.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    mtcnn = MTCNN(image_size=160, keep_all=False, device="cpu")
    found = 0
    with torch.random.fork_rng(devices=[]):
        for i in range(0, n, 100):
            _, probs = mtcnn.detect(list(arr[i : i + 100]))
            found += sum(p is not None and p[0] is not None and p[0] >= threshold for p in probs)
    return {"samples": n, "seed": seed, "threshold": threshold, "face_rate": found / n}
