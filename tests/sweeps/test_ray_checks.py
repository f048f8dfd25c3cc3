"""A Ray sweep that could only wait for ever is refused in seconds with one line: an address that
is no address, nothing answering there, or a job asking for more CPUs or GPUs than the whole
cluster has (audit cases S41-S44)."""

import socket

import pytest

from sweeps.executors import RAY, ExecutorConfig
from sweeps.executors.ray_cluster import _check_resources, _probe
from trainer.errors import TrainError


@pytest.mark.parametrize("address", ["garbage", "host:", ":80", "http://h:1", "a b:1", "h:123456"])
def test_a_ray_address_that_is_no_address_is_refused(address):
    with pytest.raises(TrainError, match="--ray-address is 'auto', HOST:PORT or ray://HOST:PORT"):
        ExecutorConfig(RAY, ray_address=address).validate()
    for good in ("auto", "10.0.0.1:6379", "ray://head.cluster:10001", "localhost:6379"):
        ExecutorConfig(RAY, ray_address=good).validate()


def test_an_address_where_nothing_listens_is_refused_at_once():
    with socket.socket() as server:  # a port that was just free and is closed again: nothing listens
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
    with pytest.raises(TrainError, match=rf"--ray-address 127.0.0.1:{port}: nothing answers there"):
        _probe(f"127.0.0.1:{port}")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        _probe(f"127.0.0.1:{server.getsockname()[1]}")  # something listens: no error


class Cluster:
    """What ``ray.cluster_resources()`` reports for a cluster of 2 CPUs and no GPU."""

    @staticmethod
    def cluster_resources():
        return {"CPU": 2.0, "memory": 1e9}


@pytest.mark.parametrize(
    ("cpus", "gpus", "message"),
    [
        (64, 0, "--cpus-per-job 64: the Ray cluster started on this machine has 2 CPU(s) in all"),
        (1, 1, "--gpus-per-job 1: the Ray cluster started on this machine has 0 GPU(s) in all"),
    ],
)
def test_a_job_larger_than_the_cluster_is_refused(cpus, gpus, message):
    with pytest.raises(TrainError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _check_resources(Cluster, ExecutorConfig(RAY, cpus_per_job=cpus, gpus_per_job=gpus))
    _check_resources(Cluster, ExecutorConfig(RAY, cpus_per_job=2, gpus_per_job=0))
