#!/usr/bin/env python3
"""Training and evaluation throughput of the CIFAR ResNets in PyTorch on CPU.

The peer of `asib-bench`: the same networks (3x3 stem, three stages of BasicBlocks, 1x1
conv + BN shortcuts where the shape changes, global average pooling, linear head), batch
128, SGD with Nesterov momentum 0.9 and weight decay 5e-4, random inputs, 2 warm-up steps
and then `--steps` timed steps. Needs PyTorch (`pip install torch`); not used by the tests.
"""
import argparse
import time

import torch
from torch import nn
import torch.nn.functional as F

ARCHITECTURES = {
    # name: (stem width, stage widths, blocks per stage)
    "resnet8": (16, (16, 32, 64), 1),
    "resnet14": (16, (16, 32, 64), 2),
    "resnet20": (16, (16, 32, 64), 3),
    "resnet32": (16, (16, 32, 64), 5),
    "resnet8x4": (32, (64, 128, 256), 1),
}


class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = x if self.shortcut is None else self.shortcut(x)
        return F.relu(out + skip)


class ResNet(nn.Module):
    def __init__(self, name, in_channels, classes=10):
        super().__init__()
        stem, widths, blocks = ARCHITECTURES[name]
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU()
        )
        layers = []
        channels = stem
        for stage, width in enumerate(widths):
            for block in range(blocks):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(BasicBlock(channels, width, stride))
                channels = width
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Linear(channels, classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def measure(name, height, width, channels, threads, batch, steps, channels_last):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = ResNet(name, channels)
    inputs = torch.randn(batch, channels, height, width)
    labels = torch.arange(batch) % 10
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    optimiser = torch.optim.SGD(
        model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4
    )

    def train_step():
        optimiser.zero_grad(set_to_none=True)
        F.cross_entropy(model(inputs), labels).backward()
        optimiser.step()

    def eval_step():
        with torch.no_grad():
            model(inputs)

    def timed(step):
        for _ in range(2):
            step()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        return steps * batch / (time.perf_counter() - start)

    model.train()
    train = timed(train_step)
    model.eval()
    evaluation = timed(eval_step)
    return train, evaluation


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(ARCHITECTURES))
    parser.add_argument("--input", default="28x28x1", help="HxWxC, e.g. 28x28x1 or 32x32x3")
    parser.add_argument("--threads", type=int, help="intra-op threads; default 1 and 2")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    args = parser.parse_args()

    cases = [("resnet8", 28, 28, 1), ("resnet8", 32, 32, 3), ("resnet20", 28, 28, 1),
             ("resnet8x4", 28, 28, 1)]
    if args.model:
        height, width, channels = (int(part) for part in args.input.split("x"))
        cases = [(args.model, height, width, channels)]
    thread_counts = [args.threads] if args.threads else [1, 2]

    print(f"torch {torch.__version__}, batch {args.batch}, {args.steps} timed steps, "
          f"{'channels_last' if args.channels_last else 'contiguous (NCHW)'}")
    print(f"{'model':12}{'input':12}{'threads':12}{'train img/s':14}{'eval img/s':12}")
    for name, height, width, channels in cases:
        for threads in thread_counts:
            train, evaluation = measure(
                name, height, width, channels, threads, args.batch, args.steps,
                args.channels_last,
            )
            print(f"{name:12}{f'{height}x{width}x{channels}':12}{threads:<12}"
                  f"{train:<14.0f}{evaluation:<12.0f}")


if __name__ == "__main__":
    main()
