"""ExpNet's regressor: a compact residual CNN on a grey face crop, in plain torch.

One forward pass gives three heads: expression (Ke), pose (6: pitch, yaw, roll, scale, tx, ty in
crop-normalised units) and shape (Ks), all in whitened target units (see :mod:`expnet.inference.targets`).
The dataset mean image is a buffer of the network, so the exported ONNX graph takes raw grey
pixels (0-255) and subtracts it itself.

Blocks are depthwise-separable residual blocks (a ResNet basic block whose 3x3 convolutions are
depthwise + pointwise): most of the accuracy of a ResNet at a fraction of the multiply-adds, which
is what a CPU budget of about a millisecond per face allows.
"""

from __future__ import annotations

import torch
from torch import nn

from expnet.training.config import NetConfig


def _sep_conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
        nn.ReLU(inplace=True),
        nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))


class SepResBlock(nn.Module):
    """Two depthwise-separable convolutions with an identity (or pooled 1x1) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = _sep_conv(cin, cout, stride)
        self.conv2 = _sep_conv(cout, cout, 1)
        self.act = nn.ReLU(inplace=True)
        if stride == 1 and cin == cout:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                nn.AvgPool2d(stride, ceil_mode=True, count_include_pad=False) if stride > 1 else nn.Identity(),
                nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv2(self.act(self.conv1(x))) + self.shortcut(x))


class ExpNetCNN(nn.Module):
    def __init__(self, config: NetConfig | None = None):
        super().__init__()
        self.config = config = config or NetConfig()
        s = config.input_size
        self.register_buffer("mean_image", torch.full((1, 1, s, s), 128.0))
        self.stem = nn.Sequential(nn.Conv2d(1, config.stem, 3, 2, 1, bias=False),
                                  nn.BatchNorm2d(config.stem), nn.ReLU(inplace=True))
        blocks, cin = [], config.stem
        for width, depth in zip(config.widths, config.depths):
            for i in range(depth):
                blocks.append(SepResBlock(cin, width, 2 if i == 0 else 1))
                cin = width
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(cin, config.hidden), nn.ReLU(inplace=True))
        self.expression = nn.Linear(config.hidden, config.n_expression)
        self.pose = nn.Linear(config.hidden, config.n_pose)
        self.shape = nn.Linear(config.hidden, config.n_shape)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``pixels``: (B, 1, S, S) grey values 0-255. Returns (expression, pose, shape), whitened."""
        x = (pixels - self.mean_image) * (1.0 / 64.0)
        feat = self.trunk(self.pool(self.blocks(self.stem(x))))
        return self.expression(feat), self.pose(feat), self.shape(feat)


def count_macs(model: ExpNetCNN) -> int:
    """Multiply-adds of one forward pass (convolutions and linear layers)."""
    total = 0

    def conv_hook(mod, inp, out):
        nonlocal total
        total += out.numel() // out.shape[0] * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]

    def linear_hook(mod, inp, out):
        nonlocal total
        total += mod.in_features * mod.out_features

    hooks = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_hook(linear_hook) for m in model.modules() if isinstance(m, nn.Linear)]
    s = model.config.input_size
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, s, s))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return total


class SplitNetwork(nn.Module):
    """The paper's arrangement in one graph: expression and shape from one network, pose from
    another (FacePoseNet beside ExpNet).

    The pose network may see a wider crop (``pose_enlarge`` over ``expression_enlarge``: more of
    the head) and a smaller input. The graph then takes the wider crop at the expression network's
    pixel scale; the expression network gets its centre (exactly its own crop), the pose network
    all of it, average-pooled by an integer ratio (as a crop of that size is cut by area
    resampling).
    """

    def __init__(self, expression: ExpNetCNN, pose: ExpNetCNN, expression_enlarge: float = 1.25,
                 pose_enlarge: float = 1.25):
        super().__init__()
        s = expression.config.input_size
        wide = s * pose_enlarge / expression_enlarge
        size = int(round(wide))
        if pose_enlarge < expression_enlarge or abs(size - wide) > 1e-6 or (size - s) % 2:
            raise ValueError(f"the pose network's crop ({pose_enlarge:g}x) must hold the expression network's "
                             f"({expression_enlarge:g}x) with a whole, even margin at {s} px; got {wide:.3f} px")
        if size % pose.config.input_size:
            raise ValueError(f"the pose network's input ({pose.config.input_size} px) must divide the graph's "
                             f"({size} px)")
        self.expression, self.pose = expression, pose
        self.input_size, self.margin, self.ratio = size, (size - s) // 2, size // pose.config.input_size

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        m, s = self.margin, self.expression.config.input_size
        expression, _, shape = self.expression(pixels[:, :, m:m + s, m:m + s] if m else pixels)
        small = nn.functional.avg_pool2d(pixels, self.ratio) if self.ratio > 1 else pixels
        return expression, self.pose(small)[1], shape
