#!/usr/bin/env python3
"""Data-parallel logistic regression with nothing but the standard library.

Each rank holds a contiguous share of a generated dataset, computes partial
gradients over fixed 64-sample chunks, and the ranks all-reduce them over TCP:
rank 0 listens on MASTER_ADDR:MASTER_PORT, gathers every rank's chunk sums,
adds them in global chunk order and sends the sum back to every rank, which
applies the same update. Because the sum is always taken in the same order,
the weights after every step are bit-identical to a single-process run of the
same data (run this file without WORLD_SIZE), whatever the number of ranks,
and whether or not the run was interrupted and resumed from a checkpoint.

Environment (set by Skiff's pytorch preset and the job controller):
  WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT  the rendezvous (absent: 1 process)
  SKIFF_CHECKPOINT_DIR                        where rank 0 keeps checkpoint.json
  SKIFF_API, SKIFF_JOB_TOKEN, SKIFF_NAMESPACE, SKIFF_JOB
                                              metrics are POSTed there when set

On SIGTERM (a preemption, a suspend, a gang restart) rank 0 reads the job's
notice from $SKIFF_API, writes a checkpoint of the last finished step and
exits; on the next attempt every rank resumes from it.
"""
import argparse
import json
import math
import os
import random
import signal
import socket
import struct
import sys
import time
import urllib.request

CHUNK = 64


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--samples", type=int, default=2048)
    p.add_argument("--features", type=int, default=8)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--lr", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--checkpoint-every", type=int, default=10)
    p.add_argument("--report-every", type=int, default=10)
    p.add_argument("--step-delay", type=float, default=0.0, help="seconds to sleep per step (makes short runs observable)")
    p.add_argument("--report", choices=["auto", "api", "stdout", "both"], default="auto",
                   help="where metrics go: auto posts to $SKIFF_API when set, else prints skiff:metric lines")
    p.add_argument("--checkpoint-dir", default=os.environ.get("SKIFF_CHECKPOINT_DIR", ""))
    return p.parse_args()


def dataset(n, d, seed):
    """A linearly separable-ish problem: labels from a hidden weight vector plus noise."""
    rng = random.Random(seed)
    true_w = [rng.gauss(0, 1) for _ in range(d)]
    xs, ys = [], []
    for _ in range(n):
        x = [rng.gauss(0, 1) for _ in range(d)] + [1.0]  # last feature is the bias
        z = sum(a * b for a, b in zip(x, true_w)) + rng.gauss(0, 0.5)
        xs.append(x)
        ys.append(1.0 if z > 0 else 0.0)
    return xs, ys


def sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def chunk_sums(xs, ys, w, chunks):
    """Per-chunk [loss sum, gradient sums...] for the given chunk indices."""
    out = []
    for c in chunks:
        loss, grad = 0.0, [0.0] * len(w)
        for i in range(c * CHUNK, min((c + 1) * CHUNK, len(xs))):
            x = xs[i]
            p = sigmoid(sum(a * b for a, b in zip(x, w)))
            p = min(max(p, 1e-12), 1 - 1e-12)
            loss -= ys[i] * math.log(p) + (1 - ys[i]) * math.log(1 - p)
            err = p - ys[i]
            for j, a in enumerate(x):
                grad[j] += err * a
        out.append([loss] + grad)
    return out


def my_chunks(n_chunks, world, rank):
    """Contiguous chunk ranges, as even as possible."""
    per, extra = divmod(n_chunks, world)
    start = rank * per + min(rank, extra)
    return list(range(start, start + per + (1 if rank < extra else 0)))


# --- framing: a message is a little-endian count followed by that many doubles.

def send_floats(sock, vals):
    sock.sendall(struct.pack("<I", len(vals)) + struct.pack("<%dd" % len(vals), *vals))


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            raise ConnectionError("peer closed the connection")
        buf += part
    return bytes(buf)


def recv_floats(sock):
    (n,) = struct.unpack("<I", recv_exact(sock, 4))
    return list(struct.unpack("<%dd" % n, recv_exact(sock, 8 * n)))


class Group:
    """The ranks of the job and the all-reduce between them."""

    def __init__(self, world, rank, addr, port):
        self.world, self.rank, self.peers, self.sock = world, rank, {}, None
        if world == 1:
            return
        if rank == 0:
            srv = socket.socket()
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            srv.bind((addr, port))
            srv.listen(world)
            srv.settimeout(120)
            while len(self.peers) < world - 1:
                conn, _ = srv.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                (peer,) = struct.unpack("<I", recv_exact(conn, 4))
                if peer in self.peers or not 0 < peer < world:
                    sys.exit(f"unexpected peer rank {peer}")
                self.peers[peer] = conn
            srv.close()
            return
        deadline = time.time() + 120
        while True:
            try:
                self.sock = socket.create_connection((addr, port), timeout=5)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(struct.pack("<I", rank))

    def broadcast(self, vals):
        """Rank 0's vals reach every rank."""
        if self.world == 1:
            return vals
        if self.rank == 0:
            for r in sorted(self.peers):
                send_floats(self.peers[r], vals)
            return vals
        return recv_floats(self.sock)

    def allreduce_ordered(self, parts, width):
        """Sum every rank's per-chunk vectors in global chunk order; every rank gets the sum."""
        if self.world > 1 and self.rank != 0:
            send_floats(self.sock, [v for part in parts for v in part])
            return recv_floats(self.sock)
        everything = list(parts)
        for r in sorted(self.peers):
            flat = recv_floats(self.peers[r])
            everything += [flat[i:i + width] for i in range(0, len(flat), width)]
        total = [0.0] * width
        for part in everything:  # chunks arrive in rank order = global chunk order
            for j in range(width):
                total[j] += part[j]
        for r in sorted(self.peers):
            send_floats(self.peers[r], total)
        return total


def load_checkpoint(path, d):
    try:
        with open(path) as f:
            ck = json.load(f)
    except FileNotFoundError:
        return 0, [0.0] * (d + 1)
    return ck["step"], [float.fromhex(h) for h in ck["weights"]]


def save_checkpoint(path, step, w):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"step": step, "weights": [v.hex() for v in w]}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Reporter:
    """Sends metric points to $SKIFF_API with the job's token, or prints skiff:metric lines."""

    def __init__(self, mode):
        self.api = os.environ.get("SKIFF_API", "")
        if mode == "auto":
            mode = "api" if self.api else "stdout"
        if mode in ("api", "both") and not self.api:
            sys.exit("--report api needs SKIFF_API (run it under skiff)")
        self.mode, self.pending = mode, []
        ns, job = os.environ.get("SKIFF_NAMESPACE", ""), os.environ.get("SKIFF_JOB", "")
        self.base = f"{self.api}/apis/skiff.dev/v1alpha1/namespaces/{ns}/jobs/{job}"
        self.token = os.environ.get("SKIFF_JOB_TOKEN", "")

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Authorization": "Bearer " + self.token, "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None

    def report(self, step, **values):
        if self.mode in ("stdout", "both"):
            fields = " ".join(f"{k}={v!r}" for k, v in values.items())
            print(f"skiff:metric {fields} step={step}", flush=True)
        if self.mode in ("api", "both"):
            self.pending += [{"name": k, "step": step, "value": v} for k, v in values.items()]

    def flush(self):
        if self.pending:
            self.request("POST", "/metrics", {"points": self.pending})
            self.pending = []

    def notice(self):
        if not self.api:
            return None
        try:
            return self.request("GET", "/notice")
        except OSError as e:
            return {"error": str(e)}


def main():
    args = parse_args()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    xs, ys = dataset(args.samples, args.features, args.seed)
    n_chunks = (args.samples + CHUNK - 1) // CHUNK
    if world > n_chunks:
        sys.exit(f"WORLD_SIZE {world} is more than the {n_chunks} chunks of data")
    mine = my_chunks(n_chunks, world, rank)
    width = args.features + 2  # loss + gradient (features + bias)

    stop = {"signal": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(signal=True))

    group = Group(world, rank, os.environ.get("MASTER_ADDR", "127.0.0.1"), int(os.environ.get("MASTER_PORT", "0") or 0))
    ckpt = os.path.join(args.checkpoint_dir, "checkpoint.json") if args.checkpoint_dir else ""
    start, w = (load_checkpoint(ckpt, args.features) if ckpt and rank == 0 else (0, [0.0] * (args.features + 1)))
    # Rank 0's view of the checkpoint is the one every rank starts from.
    state = group.broadcast([float(start)] + w)
    start, w = int(state[0]), state[1:]
    reporter = Reporter(args.report) if rank == 0 else None
    print(f"rank {rank} of {world}: chunks {mine[0]}..{mine[-1]}, " +
          (f"resumed from step {start}" if start else "starting at step 0"), flush=True)

    step, loss = start, float("nan")
    try:
        while step < args.steps:
            if stop["signal"]:
                raise InterruptedError
            total = group.allreduce_ordered(chunk_sums(xs, ys, w, mine), width)
            loss = total[0] / args.samples
            w = [wj - args.lr * g / args.samples for wj, g in zip(w, total[1:])]
            step += 1
            if rank == 0:
                if step % args.report_every == 0 or step == args.steps:
                    reporter.report(step, loss=loss, progress=step / args.steps)
                    if step % (args.report_every * 5) == 0 or step == args.steps:
                        reporter.flush()
                if ckpt and (step % args.checkpoint_every == 0 or step == args.steps):
                    save_checkpoint(ckpt, step, w)
            if args.step_delay:
                time.sleep(args.step_delay)
    except (InterruptedError, ConnectionError, OSError) as e:
        if rank == 0:
            if ckpt:
                save_checkpoint(ckpt, step, w)
            why = "SIGTERM" if stop["signal"] else f"lost a peer ({e})"
            print(f"stopping at step {step} ({why}); checkpoint written", flush=True)
            if stop["signal"]:
                notice = reporter.notice()
                if notice is not None:
                    print(f"notice: {json.dumps(notice)}", flush=True)
            try:
                reporter.flush()
            except OSError:
                pass
        sys.exit(143 if stop["signal"] else 1)
    # Final full-data loss of the final weights, reduced in the same order.
    final = group.allreduce_ordered(chunk_sums(xs, ys, w, mine), width)[0] / args.samples
    if rank == 0:
        reporter.report(step, final_loss=final)
        reporter.flush()
        print(f"final loss={final!r} steps={step}", flush=True)


if __name__ == "__main__":
    main()
