#!/usr/bin/env python3
"""A small neural network trained with minibatch SGD, using only the standard library.

The task is a generated two-class problem whose boundary is not linear: a
point's label depends on the sign of a product of two of its features plus a
circle, with some label noise. The network has one tanh hidden layer and a
sigmoid output, trained with momentum SGD and L2 weight decay on a training
split; after every epoch it prints the loss on a held-out validation split as

    skiff:metric val_loss=0.4123 val_acc=0.81 step=EPOCH

which Skiff stores as the job's metrics (an Experiment reads val_loss, with
the epoch as the early-stopping resource). Everything is seeded, so one
configuration always gives the same numbers.

The defaults (lr 0.01, batch 64, momentum 0, hidden 8, weight decay 1e-3)
are a plausible first guess, not a tuned one: examples/sweep/experiment.yaml
searches for better ones.
"""
import argparse
import math
import random
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--hidden", type=int, default=8)
    p.add_argument("--weight-decay", type=float, default=1e-3)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--samples", type=int, default=1200)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--epoch-delay", type=float, default=0.0, help="seconds to sleep per epoch (makes short runs observable)")
    a = p.parse_args()
    if a.batch_size < 1 or a.hidden < 1 or a.epochs < 1 or a.lr <= 0:
        sys.exit("--batch-size, --hidden, --epochs and --lr must be positive")
    return a


def dataset(n, rng):
    xs, ys = [], []
    for _ in range(n):
        x = [rng.uniform(-2, 2) for _ in range(4)]
        score = x[0] * x[1] + 0.6 * (x[2] ** 2 + x[3] ** 2) - 1.2
        y = 1.0 if score > 0 else 0.0
        if rng.random() < 0.05:
            y = 1.0 - y
        xs.append(x)
        ys.append(y)
    return xs, ys


def sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class Net:
    def __init__(self, d, h, rng):
        s1, s2 = 1.0 / math.sqrt(d), 1.0 / math.sqrt(h)
        self.w1 = [[rng.gauss(0, s1) for _ in range(d)] for _ in range(h)]
        self.b1 = [0.0] * h
        self.w2 = [rng.gauss(0, s2) for _ in range(h)]
        self.b2 = 0.0

    def forward(self, x):
        hid = [math.tanh(sum(w * v for w, v in zip(row, x)) + b) for row, b in zip(self.w1, self.b1)]
        return hid, sigmoid(sum(w * v for w, v in zip(self.w2, hid)) + self.b2)

    def params(self):
        return [self.w1, self.b1, self.w2, [self.b2]]


def loss_acc(net, xs, ys):
    total, right = 0.0, 0
    for x, y in zip(xs, ys):
        _, p = net.forward(x)
        p = min(max(p, 1e-7), 1 - 1e-7)
        total -= y * math.log(p) + (1 - y) * math.log(1 - p)
        right += (p > 0.5) == (y > 0.5)
    return total / len(xs), right / len(xs)


def train_batch(net, vel, batch, lr, mom, wd):
    h = len(net.b1)
    gw1 = [[0.0] * len(batch[0][0]) for _ in range(h)]
    gb1, gw2, gb2 = [0.0] * h, [0.0] * h, 0.0
    for x, y in batch:
        hid, p = net.forward(x)
        dz = p - y
        gb2 += dz
        for j in range(h):
            gw2[j] += dz * hid[j]
            dh = dz * net.w2[j] * (1 - hid[j] * hid[j])
            gb1[j] += dh
            row = gw1[j]
            for k, v in enumerate(x):
                row[k] += dh * v
    n = len(batch)
    for j in range(h):
        for k in range(len(gw1[j])):
            g = gw1[j][k] / n + wd * net.w1[j][k]
            vel[0][j][k] = mom * vel[0][j][k] - lr * g
            net.w1[j][k] += vel[0][j][k]
        vel[1][j] = mom * vel[1][j] - lr * gb1[j] / n
        net.b1[j] += vel[1][j]
        g = gw2[j] / n + wd * net.w2[j]
        vel[2][j] = mom * vel[2][j] - lr * g
        net.w2[j] += vel[2][j]
    vel[3] = mom * vel[3] - lr * gb2 / n
    net.b2 += vel[3]


def main():
    a = parse_args()
    data_rng = random.Random(a.seed)
    xs, ys = dataset(a.samples, data_rng)
    split = a.samples * 3 // 4
    train = list(zip(xs[:split], ys[:split]))
    val_x, val_y = xs[split:], ys[split:]
    rng = random.Random(a.seed + 1)
    net = Net(4, a.hidden, rng)
    vel = [[[0.0] * 4 for _ in range(a.hidden)], [0.0] * a.hidden, [0.0] * a.hidden, 0.0]
    for epoch in range(1, a.epochs + 1):
        rng.shuffle(train)
        for i in range(0, len(train), a.batch_size):
            train_batch(net, vel, train[i:i + a.batch_size], a.lr, a.momentum, a.weight_decay)
        loss, acc = loss_acc(net, val_x, val_y)
        if math.isnan(loss) or math.isinf(loss):
            loss = 1e9
        print(f"skiff:metric val_loss={loss:.6f} val_acc={acc:.4f} step={epoch}", flush=True)
        if a.epoch_delay:
            time.sleep(a.epoch_delay)
    print(f"final val_loss={loss:.6f} val_acc={acc:.4f} after {a.epochs} epochs", flush=True)


if __name__ == "__main__":
    main()
