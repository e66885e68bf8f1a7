"""The training recipe's settings and their checks, without torch: ``expnet --help`` and the
parser's defaults read them on a machine that has only what prediction needs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from expnet.detection.crop import ENLARGE

POSE_LOSSES = ("euler", "vertex")


def encoding_of(pose_loss: str) -> str:
    """The pose encoding a loss trains (the vertex loss needs a rotation without wrap-around)."""
    if pose_loss not in POSE_LOSSES:
        raise ValueError(f"pose_loss must be one of {POSE_LOSSES}, got {pose_loss!r}")
    return "euler" if pose_loss == "euler" else "6d"


@dataclass(frozen=True)
class NetConfig:
    """The network's shape: input size, stem and stage widths, blocks per stage, head sizes."""

    input_size: int = 112
    stem: int = 32
    widths: tuple[int, ...] = (48, 96, 160, 256)
    depths: tuple[int, ...] = (1, 2, 2, 1)
    hidden: int = 256
    n_expression: int = 10
    n_shape: int = 40
    n_pose: int = 6

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> NetConfig:
        d = dict(d)
        d["widths"], d["depths"] = tuple(d["widths"]), tuple(d["depths"])
        return cls(**d)


OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("plateau", "cosine")


@dataclass
class TrainConfig:
    """A training recipe; checked on construction, so a bad setting fails before any data work."""

    labels: list[str]
    out: str = "outputs/train"
    input_size: int = 112
    epochs: int = 30
    batch_size: int = 144
    optimizer: str = "sgd"          # "sgd" (the paper's) or "adamw"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "plateau"       # "plateau" (the paper's: /10 when validation stalls) or "cosine"
    plateau_patience: int = 1
    min_lr: float = 1e-6
    loss_weights: tuple[float, float, float] = (1.0, 1.0, 0.25)  # expression, pose, shape
    seed: int = 0
    threads: int = 0                # 0: torch's default
    augment: bool = True
    net: dict = field(default_factory=dict)  # overrides of NetConfig
    val_identities: str | None = None  # file of held-out identities; default: the lfw split
    cache: str = "outputs/cache"       # training crops (derived from the datasets: never committed)
    max_minutes: float = 0.0           # stop after the epoch that passes this wall time (0: no limit)
    init: str | None = None            # start from this checkpoint's weights (e.g. a lower-lr stage)
    extra: str | None = None           # extra expression components ("shipped" or an .npz): 10 + K outputs
    device: str = "cpu"                # "cpu", "cuda" or "cuda:N": the same recipe on either
    pose_loss: str = "euler"           # "euler" (standardised angles, the shipped model's) or "vertex"
    label_weights: tuple[float, ...] | None = None  # share of each label file in an epoch (None: all once)
    epoch_samples: int = 0             # samples drawn per epoch (0: the training set's size)
    fill_black: float = 0.0            # probability that a crop's black canvas takes another crop's pixels
    occlude: float = 0.0               # probability that a band of a crop is covered with flat grey
    sunglasses: float = 0.0            # probability that the face in a crop wears dark glasses
    enlarge: float = ENLARGE           # the crop: the box squared and enlarged this much (wider: more head)

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        for name in ("input_size", "epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if not self.lr > 0 or self.weight_decay < 0 or self.max_minutes < 0:
            raise ValueError("lr must be positive, weight_decay and max_minutes not negative")
        if self.device != "cpu" and not self.device.startswith("cuda"):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        if len(self.loss_weights) != 3 or not all(float(w) >= 0 for w in self.loss_weights):
            raise ValueError(f"loss_weights are three numbers (expression, pose, shape), none negative; "
                             f"got {self.loss_weights!r}")
        encoding_of(self.pose_loss)  # a ValueError that names the choices
        if self.label_weights is not None:
            self.label_weights = tuple(float(w) for w in self.label_weights)
            if len(self.label_weights) != len(self.labels) or not all(w >= 0 for w in self.label_weights) \
                    or not sum(self.label_weights) > 0:
                raise ValueError(f"label_weights are one share per label file ({len(self.labels)}), none negative "
                                 f"and not all zero; got {self.label_weights!r}")
        if not 1.0 <= float(self.enlarge) <= 3.0:
            raise ValueError(f"enlarge must be within [1, 3], got {self.enlarge!r}")
        for name in ("fill_black", "occlude", "sunglasses"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name} is a probability, got {getattr(self, name)!r}")
        if int(self.epoch_samples) < 0:
            raise ValueError(f"epoch_samples must not be negative, got {self.epoch_samples!r}")
        unknown = set(self.net) - set(NetConfig.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown network settings {sorted(unknown)}; "
                             f"choose from {sorted(NetConfig.__dataclass_fields__)}")
        self.loss_weights = tuple(float(w) for w in self.loss_weights)
