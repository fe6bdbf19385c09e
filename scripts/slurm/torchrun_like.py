#!/usr/bin/env python3
"""A launcher that starts workers with exactly the variables torchrun's local elastic agent gives
each worker (torch.distributed.run, static rendezvous), for tests where torch is not installed:

  torchrun_like.py --nnodes N --node-rank R --nproc-per-node P [--master-addr A] [--master-port P]
                   [--rdzv-id ID] CMD [ARG...]

--rdzv-id defaults to torchrun's own default, "none". Workers are this process's children (as
under torchrun, whose agent is their parent); it waits for them (at most --timeout s, default
120) and exits with the first non-zero status."""

import argparse
import os
import subprocess
import sys


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--nnodes", type=int, default=1)
    p.add_argument("--node-rank", type=int, default=0)
    p.add_argument("--nproc-per-node", type=int, default=1)
    p.add_argument("--master-addr", default="127.0.0.1")
    p.add_argument("--master-port", type=int, default=29500)
    p.add_argument("--rdzv-id", default="none")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args()
    if not a.cmd:
        p.error("no command")
    world = a.nnodes * a.nproc_per_node
    procs = []
    for local in range(a.nproc_per_node):
        rank = a.node_rank * a.nproc_per_node + local
        env = dict(os.environ)
        env.update(
            LOCAL_RANK=str(local),
            RANK=str(rank),
            GROUP_RANK=str(a.node_rank),
            ROLE_RANK=str(rank),
            ROLE_NAME="default",
            LOCAL_WORLD_SIZE=str(a.nproc_per_node),
            WORLD_SIZE=str(world),
            GROUP_WORLD_SIZE=str(a.nnodes),
            ROLE_WORLD_SIZE=str(world),
            MASTER_ADDR=a.master_addr,
            MASTER_PORT=str(a.master_port),
            TORCHELASTIC_RESTART_COUNT="0",
            TORCHELASTIC_MAX_RESTARTS="0",
            TORCHELASTIC_RUN_ID=a.rdzv_id,
            TORCHELASTIC_USE_AGENT_STORE="True",
            TORCH_NCCL_ASYNC_ERROR_HANDLING="1",
        )
        # torchrun sets OMP_NUM_THREADS=1 for several workers per node, unless it is set.
        if a.nproc_per_node > 1 and "OMP_NUM_THREADS" not in os.environ:
            env["OMP_NUM_THREADS"] = "1"
        procs.append(subprocess.Popen(a.cmd, env=env))
    status = 0
    for pr in procs:
        try:
            rc = pr.wait(timeout=a.timeout)
        except subprocess.TimeoutExpired:
            pr.kill()
            rc = pr.wait(timeout=10)
        status = status or rc
    return status


if __name__ == "__main__":
    sys.exit(main())
