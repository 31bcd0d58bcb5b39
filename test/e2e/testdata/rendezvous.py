"""Rendezvous check for the pytorch preset, standard library only.

Every rank checks that the environment torch.distributed and torchrun read is
complete and consistent; rank 0 then listens on MASTER_ADDR:MASTER_PORT and
every other rank connects and sends its rank. Rank 0 succeeds when it has
heard from all WORLD_SIZE - 1 peers, each exactly once.
"""
import os
import socket
import sys
import time


def env(name):
    value = os.environ.get(name)
    if value is None:
        sys.exit(f"missing {name}")
    return value


def main():
    world = int(env("WORLD_SIZE"))
    rank = int(env("RANK"))
    addr, port = env("MASTER_ADDR"), int(env("MASTER_PORT"))
    assert env("PET_MASTER_ADDR") == addr and int(env("PET_MASTER_PORT")) == port
    assert int(env("PET_NNODES")) == world and int(env("NODE_RANK")) == rank
    assert int(env("PET_NODE_RANK")) == rank and env("LOCAL_RANK") == "0"
    assert 0 <= rank < world
    print(f"rank {rank} of {world} at {addr}:{port}", flush=True)
    if rank == 0:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((addr, port))
        srv.listen(world)
        srv.settimeout(60)
        seen = set()
        while len(seen) < world - 1:
            conn, _ = srv.accept()
            peer = int(conn.recv(16).decode())
            if peer in seen or not 0 < peer < world:
                sys.exit(f"unexpected peer rank {peer}")
            seen.add(peer)
            conn.close()
        print(f"rendezvous complete: {sorted(seen)}", flush=True)
        return
    deadline = time.time() + 60
    while True:
        try:
            with socket.create_connection((addr, port), timeout=5) as conn:
                conn.sendall(str(rank).encode())
            return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


if __name__ == "__main__":
    main()
