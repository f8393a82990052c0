import numpy as np
import pytest
import torch
from skimage import data

from braindecode.activations import load_model

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry")


@pytest.fixture(scope="session")
def lite0():
    torch.set_num_threads(1)
    return load_model("efficientnet-lite0")


@pytest.fixture(scope="session")
def minilm():
    return load_model("minilm-l6-v2")


@pytest.fixture(scope="session")
def photos():
    """scikit-image photographs as uint8 arrays, keyed by name (gray ones stay 2-D)."""
    return {name: getattr(data, name)() for name in PHOTOS}


class SmallNet(torch.nn.Module):
    """A small image network with nested modules, a functional op and a skip connection."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2)
        self.block = torch.nn.Sequential(torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
                                         torch.nn.ReLU())
        self.down = torch.nn.Conv2d(8, 12, 3, stride=2)
        self.fc = torch.nn.Linear(12, 5)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        x = self.block(x) + x
        x = self.down(x)
        return self.fc(x.mean(dim=(2, 3)))


def make_small_net():
    """A seeded SmallNet in eval mode with non-trivial batch-norm statistics."""
    torch.manual_seed(0)
    net = SmallNet()
    with torch.no_grad():
        net.block[1].running_mean.uniform_(-0.5, 0.5)
        net.block[1].running_var.uniform_(0.5, 2.0)
    return net.eval()


@pytest.fixture
def small_net():
    return make_small_net()


@pytest.fixture(scope="session")
def small_images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, size=(40 + 3 * i, 48, 3), dtype=np.uint8) for i in range(5)]
